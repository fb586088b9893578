"""States that tell the truth (issue 13.5, 13.6, 13.13, 13.14): what a server said is shown in
its own words, classified by what it means, and receiving and sending keep their own health."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from postroom.storage import db as storage_db
from postroom.storage.models import Mailbox, aware, utcnow
from tests.conftest import USERS, Cli
from tests.integration.mailhelpers import add_desk, add_server, cli_json
from tests.mailfactory import email_from
from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot
from tests.servers.scripted_pop3 import ScriptedPop3
from tests.servers.smtp import SmtpServer

ADDRESS = "desk@example.test"


def _desk(cli: Cli, server: ScriptedPop3, *outgoing: str) -> None:
    add_server(cli, "pop", "pop3", server.port, "none", "--timeout", "5")
    added = cli(
        "mailbox",
        "add",
        ADDRESS,
        "--incoming",
        "pop",
        *outgoing,
        "--password-stdin",
        input=server.password + "\n",
    )
    assert added.code == 0, added.stderr


def _show(cli: Cli) -> dict[str, object]:
    code, box = cli_json(cli, "mailbox", "show", ADDRESS)
    assert code == 0 and isinstance(box, dict)
    return box


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        ("-ERR [LOGIN-DELAY] Logins must be at least 1 minute apart", "retrying"),
        ("-ERR [IN-USE] Mailbox locked by another session", "retrying"),
        ("-ERR [SYS/TEMP] Storage temporarily unavailable", "retrying"),
        ("-ERR [AUTH] Invalid username or password", "auth-failed"),
        ("-ERR [SYS/PERM] Your account is suspended", "server-error"),
        ("-ERR Invalid login", "auth-failed"),
    ],
)
def test_pop3_response_codes_decide_the_state_and_the_servers_words_are_shown(
    cli: Cli, answer: str, state: str
) -> None:
    with ScriptedPop3({"u1": email_from("ann@example.org", "Hi")}) as server:
        _desk(cli, server)
        server.login_reply = answer
        assert cli_json(cli, "fetch", "--once")[0] == 1
        box = _show(cli)
        assert box["state"] == state
        said = answer.removeprefix("-ERR ")
        assert said in str(box["last_error"]) and "b'" not in str(box["last_error"])
        server.login_reply = None  # the server lets us in again: nothing was lost meanwhile
        assert cli_json(cli, "fetch", "--once")[0] == 0
        assert _show(cli)["state"] == "ok"


def test_the_login_delay_capability_is_honoured_in_the_poll_interval(cli: Cli) -> None:
    with ScriptedPop3({"u1": email_from("ann@example.org", "Hi")}) as server:
        server.capabilities.append("LOGIN-DELAY 900")
        _desk(cli, server)
        before = utcnow()
        assert cli_json(cli, "fetch", "--once")[0] == 0
    assert _show(cli)["login_delay"] == 900
    with storage_db.unit_of_work() as db:
        due = db.scalar(select(Mailbox.next_poll_at).where(Mailbox.address == ADDRESS))
    assert due is not None and aware(due) >= before + timedelta(seconds=900 * 0.89)


def test_a_refused_imap_login_shows_the_servers_words_not_a_bytes_literal(
    cli: Cli, dovecot: Dovecot
) -> None:
    user = add_desk(cli, dovecot, "imap", dovecot.imap_port)
    dovecot.add_user(user, "a-new-password")
    cli_json(cli, "fetch", "--once")
    _, box = cli_json(cli, "mailbox", "show", user)
    assert box["state"] == "auth-failed"
    assert "[AUTHENTICATIONFAILED] Authentication failed." in box["last_error"]
    assert "b'" not in box["last_error"] and 'b"' not in box["last_error"]
    _, reports = cli_json(cli, "mailbox", "test", user)
    assert "b'" not in str(reports)


@pytest.fixture(scope="module")
def no_auth_before_tls(test_ca: TestCA) -> Iterator[SmtpServer]:
    """A submission server that offers AUTH only after STARTTLS; used without TLS it has none."""
    with SmtpServer(users=USERS, ca=test_ca, tls=True, auth_require_tls=True) as server:
        yield server


def test_smtp_without_auth_is_a_configuration_error_not_unreachable(
    cli: Cli, no_auth_before_tls: SmtpServer
) -> None:
    add_server(cli, "out", "smtp", no_auth_before_tls.port, "none")
    password = USERS["desk@example.test"]
    added = cli("mailbox", "add", ADDRESS, "--outgoing", "out", "--password-stdin", input=password)
    assert added.code == 0, added.stderr
    _, item = cli_json(cli, "send", "--from", ADDRESS, "--to", "ann@example.org", "--subject", "x")
    cli_json(cli, "outbox", "flush", "--once")
    _, shown = cli_json(cli, "outbox", "show", str(item["id"]))
    assert shown["state"] == "failed"  # not queued for two more days of the same refusal
    assert "SMTP AUTH extension not supported" in shown["last_error"]
    assert "was reached" in shown["last_error"] and "Could not reach" not in shown["last_error"]
    health = _show(cli)["send_health"]
    assert isinstance(health, dict) and health["state"] == "misconfigured"


def test_receive_and_send_health_are_kept_apart(cli: Cli, smtp_server: SmtpServer) -> None:
    """The POP3 server takes the mailbox's password; the SMTP server knows another one."""
    with ScriptedPop3({"u1": email_from("ann@example.org", "Hi")}, password="pop-only") as pop:
        add_server(cli, "out", "smtp", smtp_server.port, "none")
        _desk(cli, pop, "--outgoing", "out")
        code, _ = cli_json(cli, "mailbox", "test", ADDRESS, "--send-test-email")
        assert code == 1
        box = _show(cli)
        send, receive = box["send_health"], box["receive_health"]
        assert isinstance(send, dict) and isinstance(receive, dict)
        assert receive["state"] == "ok" and box["state"] == "ok"
        assert send["state"] != "ok" and send["last_error"]
        assert cli_json(cli, "fetch", "--once")[0] == 0  # a good poll …
        after = _show(cli)["send_health"]
        assert isinstance(after, dict)
        assert after["last_error"] == send["last_error"]  # … clears no send error


def test_the_connection_test_keeps_a_busy_pop3_server_apart_from_a_wrong_password(
    cli: Cli,
) -> None:
    with ScriptedPop3({}) as server:
        _desk(cli, server)
        server.login_reply = "-ERR [IN-USE] Mailbox locked by another session"
        code, reports = cli_json(cli, "mailbox", "test", ADDRESS)
        assert code == 1 and "Mailbox locked by another session" in str(reports)
        assert _show(cli)["state"] == "retrying"
        server.login_reply = "-ERR [AUTH] Invalid login"
        cli_json(cli, "mailbox", "test", ADDRESS)
        assert _show(cli)["state"] == "auth-failed"
