"""With POSTROOM_LOG_LEVEL=DEBUG the protocol traces show sizes, never the mail itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.integration.mailhelpers import add_desk
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot

POSTROOM = str(Path(sys.executable).with_name("postroom"))
MARKER = "zebra-marker-7731"


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_a_fetch_at_debug_logs_no_message_content(
    cli: Cli, dovecot: Dovecot, protocol: str
) -> None:
    port = dovecot.imap_port if protocol == "imap" else dovecot.pop3_port
    address = add_desk(cli, dovecot, protocol, port)
    email = email_from(f"{MARKER}@example.org", f"Subject {MARKER}", f"Body {MARKER} " * 50)
    dovecot.deliver(address, [email])
    env = os.environ | {"POSTROOM_LOG_LEVEL": "DEBUG"}
    run = subprocess.run(
        [POSTROOM, "fetch", "--once", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout)[0]["fetched"] == 1
    if protocol == "imap":  # the trace ran (poplib traces only when asked, and never is)
        assert "DEBUG imapclient.imaplib" in run.stderr and "bytes)" in run.stderr
    assert MARKER not in run.stderr
    assert MARKER not in run.stdout
