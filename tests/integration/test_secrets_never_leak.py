"""A whole session of work, then a search of everything postroom said for the secrets it holds."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from postroom.config import get_settings
from tests.conftest import Cli
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer

MAILBOX_PASSWORD = "desk-pass-1"  # Dovecot and the SMTP server know it: tests really sign in
WRONG_PASSWORD = "Wr0ng-but-still-secret-7731"
CLIENT_SECRET = "oauth-client-secret-5f1e9a"
USER_PASSWORD = "console-password-8c2d"
SECRETS = (MAILBOX_PASSWORD, WRONG_PASSWORD, CLIENT_SECRET, USER_PASSWORD)


@pytest.mark.usefixtures("trust_test_ca")
def test_no_secret_appears_in_any_output_log_or_database_file(
    cli: Cli,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,
    engine: Engine,
    postroom_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTROOM_LOG_LEVEL", "DEBUG")
    get_settings.cache_clear()
    caplog.set_level(logging.DEBUG)
    said: list[str] = []

    def run(*args: str, input: str | None = None) -> None:
        for json_flag in ((), ("--json",)):
            result = cli(*args, *json_flag, input=input)
            said.extend((result.stdout, result.stderr))
            if input is not None:
                break  # commands that read a secret change state: run them once

    run(
        "user", "add", "ann@example.test", "--admin", "--password-stdin", input=USER_PASSWORD + "\n"
    )
    run(
        "oauth-app",
        "add",
        "m365",
        "--provider",
        "microsoft",
        "--client-id",
        "cid",
        "--client-secret-stdin",
        input=CLIENT_SECRET + "\n",
    )
    run(
        "server",
        "add",
        "in",
        "--protocol",
        "imap",
        "--host",
        "127.0.0.1",
        "--port",
        str(dovecot.imap_port),
        "--security",
        "starttls",
    )
    run(
        "server",
        "add",
        "out",
        "--protocol",
        "smtp",
        "--host",
        "127.0.0.1",
        "--port",
        str(smtp_server.port),
        "--security",
        "starttls",
    )
    run(
        "mailbox",
        "add",
        "desk@example.test",
        "--incoming",
        "in",
        "--outgoing",
        "out",
        "--password-stdin",
        input=WRONG_PASSWORD + "\n",
    )
    run("mailbox", "test", "desk@example.test")
    run(
        "mailbox",
        "reconnect",
        "desk@example.test",
        "--password-stdin",
        input=MAILBOX_PASSWORD + "\n",
    )
    run("mailbox", "test", "desk@example.test", "--send-test-email")
    for listing in (
        ("mailbox", "list"),
        ("mailbox", "show", "desk@example.test"),
        ("oauth-app", "list"),
        ("oauth-app", "show", "m365"),
        ("user", "list"),
        ("server", "list"),
        ("audit",),
    ):
        run(*listing)

    # The real console script, with debug logging, in its own process.
    env = os.environ | {"POSTROOM_LOG_LEVEL": "DEBUG"}
    for args in (
        ["mailbox", "test", "desk@example.test", "--send-test-email"],
        ["mailbox", "show", "desk@example.test", "--json"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "postroom", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        said.extend((proc.stdout, proc.stderr))

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "signed in as desk@example.test" in logged, "the connection test's log was not captured"
    assert smtp_server.messages, "the scenario never reached the SMTP server"
    everything = "\n".join([*said, logged])
    assert "desk@example.test" in everything
    database_bytes = b"".join(p.read_bytes() for p in postroom_env.glob("postroom.db*"))
    assert database_bytes
    for secret in SECRETS:
        assert secret not in everything, f"a secret leaked into output or logs: {secret[:4]}…"
        assert secret.encode() not in database_bytes, f"a secret is stored in clear: {secret[:4]}…"
