"""SMTP: sign-in and a MAIL FROM / RCPT TO probe that sends nothing; a real test email."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from tests.conftest import Cli
from tests.integration.mailhelpers import add_mailbox, add_server, cli_json, steps
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer

ADDRESS = "desk@example.test"
PASSWORD = "desk-pass-1"

pytestmark = pytest.mark.usefixtures("trust_test_ca")


def test_starttls_login_and_envelope_probe_pass_and_nothing_is_sent(
    cli: Cli, smtp_server: SmtpServer
) -> None:
    received_before = len(smtp_server.messages)
    add_server(cli, "out", "smtp", smtp_server.port, "starttls")
    add_mailbox(cli, ADDRESS, PASSWORD, "--outgoing", "out")
    code, data = cli_json(cli, "mailbox", "test", ADDRESS)
    assert code == 0
    report = data["reports"][0]
    assert report["role"] == "outgoing"
    assert [name for name, _ in steps(report)] == [
        "resolve",
        "connect",
        "greeting",
        "starttls",
        "login",
        "envelope",
    ]
    assert "nothing sent" in report["steps"][-1]["detail"]
    assert "AUTH" in report["steps"][2]["detail"]
    assert len(smtp_server.messages) == received_before
    assert (ADDRESS, [ADDRESS]) in smtp_server.envelopes


def test_implicit_tls_submission_passes(cli: Cli, smtps_server: SmtpServer) -> None:
    add_server(cli, "out", "smtp", smtps_server.port, "tls")
    add_mailbox(cli, ADDRESS, PASSWORD, "--outgoing", "out")
    code, data = cli_json(cli, "mailbox", "test", ADDRESS)
    assert code == 0
    assert [n for n, _ in steps(data["reports"][0])][:3] == ["resolve", "connect", "tls"]


def test_a_wrong_smtp_password_fails_at_login(cli: Cli, smtp_server: SmtpServer) -> None:
    add_server(cli, "out", "smtp", smtp_server.port, "starttls")
    add_mailbox(cli, ADDRESS, "wrong-password", "--outgoing", "out")
    code, data = cli_json(cli, "mailbox", "test", ADDRESS)
    assert code == 1
    failed = data["reports"][0]["steps"][-1]
    assert (failed["name"], failed["failure"]) == ("login", "auth-failed")
    assert "535" in failed["detail"]


def test_send_test_email_delivers_a_real_email_to_the_mailbox_itself(
    cli: Cli, smtp_server: SmtpServer
) -> None:
    before = len(smtp_server.messages)
    add_server(cli, "out", "smtp", smtp_server.port, "starttls")
    add_mailbox(cli, ADDRESS, PASSWORD, "--outgoing", "out")
    code, data = cli_json(cli, "mailbox", "test", ADDRESS, "--send-test-email")
    assert code == 0, data
    assert [r["role"] for r in data["reports"]] == ["outgoing", "test email"]
    received = smtp_server.wait_for(before + 1, timeout=10)[-1]
    assert received.mail_from == ADDRESS and received.rcpt_tos == [ADDRESS]
    email = message_from_bytes(received.data, policy=policy.default)
    assert email["Auto-Submitted"] == "auto-generated"
    assert email["Subject"] == "postroom test email"
    assert email["Message-ID"] in data["reports"][1]["steps"][0]["detail"]


def test_a_mailbox_test_checks_both_its_incoming_and_outgoing_server(
    cli: Cli, smtp_server: SmtpServer, dovecot: Dovecot
) -> None:
    add_server(cli, "in", "imap", dovecot.imap_port, "starttls")
    add_server(cli, "out", "smtp", smtp_server.port, "starttls")
    add_mailbox(cli, ADDRESS, PASSWORD, "--incoming", "in", "--outgoing", "out")
    code, data = cli_json(cli, "mailbox", "test", ADDRESS)
    assert code == 0
    assert [r["role"] for r in data["reports"]] == ["incoming", "outgoing"]
    assert all(r["ok"] for r in data["reports"])


def test_a_test_email_needs_an_outgoing_server(cli: Cli, dovecot: Dovecot) -> None:
    add_server(cli, "in", "imap", dovecot.imap_port, "starttls")
    add_mailbox(cli, ADDRESS, PASSWORD, "--incoming", "in")
    result = cli("mailbox", "test", ADDRESS, "--send-test-email")
    assert result.code == 1
    assert "has no outgoing server" in result.stderr
    assert "Traceback" not in result.stderr
