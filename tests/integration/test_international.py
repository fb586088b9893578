"""International addresses: IDN domains go out as IDNA, a UTF-8 local part goes out with
SMTPUTF8 where the server offers it (aiosmtpd does), a clear failure where it does not, and an
odd Message-ID on a received email never stops the reply."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Cli
from tests.integration.mailhelpers import add_server, cli_json
from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer

PASSWORD = "desk-pass-1"


@pytest.fixture(params=[True, False], ids=["smtputf8", "ascii-only"])
def desk(
    cli: Cli, dovecot: Dovecot, test_ca: TestCA, request: pytest.FixtureRequest
) -> Iterator[tuple[str, SmtpServer]]:
    """A system mailbox of workflow Support: Dovecot in, an aiosmtpd server out that offers
    SMTPUTF8 or not."""
    user = f"desk-{uuid.uuid4().hex[:8]}@example.test"
    with SmtpServer(users={user: PASSWORD}, tls=False, ca=test_ca, smtputf8=request.param) as smtp:
        add_server(cli, "out", "smtp", smtp.port, "none")
        dovecot.add_user(user, PASSWORD)
        assert cli("workflow", "add", "Support", "--steps", "New,Triage,Done").code == 0
        add_server(cli, "in", "imap", dovecot.imap_port, "none")
        added = cli(
            "mailbox", "add", user, "--incoming", "in", "--outgoing", "out",
            "--workflow", "Support", "--password-stdin", input=PASSWORD + "\n",
        )  # fmt: skip
        assert added.code == 0, added.stderr
        yield user, smtp


def _ok(cli: Cli, *args: str) -> Any:
    code, data = cli_json(cli, *args)
    assert code == 0, data
    return data


def _offers_smtputf8(request: pytest.FixtureRequest) -> bool:
    return "smtputf8" in request.node.callspec.id


def test_send_to_an_idn_domain_goes_out_as_idna(cli: Cli, desk: tuple[str, SmtpServer]) -> None:
    user, smtp = desk
    item = _ok(cli, "send", "--from", user, "--to", "x@bücher.de", "--subject", "Grüße")
    assert item["recipients"][0]["address"] == "x@xn--bcher-kva.de"
    assert _ok(cli, "outbox", "flush", "--once")["sent"] == 1
    received = smtp.wait_for(1)[-1]
    assert received.rcpt_tos == ["x@xn--bcher-kva.de"]
    assert received.message()["To"] == "x@xn--bcher-kva.de"


def test_a_utf8_local_part_needs_smtputf8_and_says_so_when_missing(
    cli: Cli, desk: tuple[str, SmtpServer], request: pytest.FixtureRequest
) -> None:
    user, smtp = desk
    item = _ok(cli, "send", "--from", user, "--to", "jürgen@bücher.de", "--subject", "Hallo")
    flushed = _ok(cli, "outbox", "flush", "--once")
    shown = _ok(cli, "outbox", "show", str(item["id"]))
    if _offers_smtputf8(request):
        assert flushed["sent"] == 1 and shown["state"] == "sent"
        received = smtp.wait_for(1)[-1]
        assert received.rcpt_tos == ["jürgen@xn--bcher-kva.de"]
        assert "SMTPUTF8" in [o.upper() for o in received.mail_options]
        assert "jürgen@xn--bcher-kva.de".encode() in received.data
    else:
        assert shown["state"] == "failed" and smtp.messages == []
        [recipient] = shown["recipients"]
        assert recipient["status"] == "refused" and recipient["code"] == 553
        assert (
            "SMTPUTF8" in recipient["detail"] and "jürgen@xn--bcher-kva.de" in recipient["detail"]
        )


def test_a_reply_to_an_international_sender_with_an_odd_message_id_goes_out(
    cli: Cli, dovecot: Dovecot, desk: tuple[str, SmtpServer], request: pytest.FixtureRequest
) -> None:
    user, smtp = desk
    raw = (
        "From: =?utf-8?q?J=C3=BCrgen?= <info@bücher.de>\r\n"
        f"To: {user}\r\n"
        "Subject: Bestellung\r\n"
        'Message-ID: <">\r\n'
        "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Wo bleibt meine Bestellung?\r\n"
    ).encode()
    dovecot.deliver(user, [raw])
    assert _ok(cli, "fetch", "--once")[0]["opened"] == 1
    [listed] = _ok(cli, "request", "list")
    item = _ok(cli, "request", "reply", str(listed["id"]), "--body", "Sie ist unterwegs.")
    assert item["recipients"][0]["address"] == "info@xn--bcher-kva.de"
    assert _ok(cli, "outbox", "flush", "--once")["sent"] == 1
    sent = smtp.wait_for(1)[-1]
    assert sent.rcpt_tos == ["info@xn--bcher-kva.de"]
    assert sent.message()["In-Reply-To"] is None  # the odd id is left out, not the reply
    assert _offers_smtputf8(request) or "SMTPUTF8" not in sent.mail_options
