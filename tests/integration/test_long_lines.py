"""Lines of any length up to the message size limit: poplib's 2,048-byte line limit must never
stop a POP3 mailbox (issue 12.2, 13.1). Real Dovecot POP3."""

from __future__ import annotations

from typing import Any

from tests.conftest import Cli
from tests.integration.mailhelpers import add_desk, cli_json
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot


def _long_lines_email() -> bytes:
    header = "X-Long: " + "h" * 10_000
    body = "b" * 100_000
    return (
        "From: ann@example.org\r\nTo: desk@example.test\r\nSubject: Very long lines\r\n"
        f"Message-ID: <long-lines@example.org>\r\n{header}\r\n\r\n{body}\r\n"
    ).encode()


def test_a_pop3_email_with_a_10_kb_header_line_and_a_100_kb_body_line_is_fetched(
    cli: Cli, dovecot: Dovecot
) -> None:
    user = add_desk(cli, dovecot, "pop3", dovecot.pop3_port)
    dovecot.deliver(user, [email_from("bob@example.org", "Normal mail"), _long_lines_email()])
    code, runs = cli_json(cli, "fetch", "--once")
    assert code == 0, runs
    assert runs[0]["fetched"] == 2 and runs[0]["opened"] == 2
    _, rows = cli_json(cli, "request", "list", "--limit", "0")
    assert sorted(r["subject"] for r in rows) == ["Normal mail", "Very long lines"]
    assert dovecot.count(user) == 0
    _, box = cli_json(cli, "mailbox", "show", user)
    assert box["state"] == "ok"
    request: Any = next(r for r in rows if r["subject"] == "Very long lines")
    _, shown = cli_json(cli, "request", "show", str(request["id"]))
    assert shown["thread"][0]["size"] > 110_000  # kept whole, the long lines included
