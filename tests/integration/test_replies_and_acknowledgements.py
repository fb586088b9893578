"""Replies from requests and acknowledgements of new ones, through real Dovecot and SMTP:
the reply joins the thread, the customer's answer threads back, and automatic mail never
answers automatic mail."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from postroom.config import get_settings
from postroom.errors import InvalidInput, NotFound
from postroom.services import replies, users, workflows
from postroom.services.actors import OPERATOR, Actor
from postroom.services.mailboxes import MailboxSpec
from postroom.services.mailboxes import add as add_mailbox_row
from postroom.storage.db import default_engine, unit_of_work
from postroom.storage.models import OutboxItem
from tests.conftest import Cli
from tests.integration.mailhelpers import add_server, cli_json
from tests.mailfactory import email_from
from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer

PASSWORD = "desk-pass-1"


@pytest.fixture
def desk(cli: Cli, dovecot: Dovecot, test_ca: TestCA) -> Iterator[tuple[str, SmtpServer]]:
    """A system mailbox tied to workflow Support that receives from Dovecot and sends through
    an SMTP server that knows its login."""
    user = f"desk-{uuid.uuid4().hex[:8]}@example.test"
    with SmtpServer(users={user: PASSWORD}, tls=False, ca=test_ca) as smtp:
        add_server(cli, "out", "smtp", smtp.port, "none")
        dovecot.add_user(user, PASSWORD)
        assert cli("workflow", "add", "Support", "--steps", "New,Triage,Done").code == 0
        add_server(cli, "in", "imap", dovecot.imap_port, "none")
        added = cli(
            "mailbox", "add", user, "--incoming", "in", "--outgoing", "out",
            "--workflow", "Support", "--sent-folder", "Sent", "--password-stdin",
            input=PASSWORD + "\n",
        )  # fmt: skip
        assert added.code == 0, added.stderr
        yield user, smtp


def _deliver(dovecot: Dovecot, user: str, sender: str, subject: str, **headers: str) -> str:
    """Deliver one email; `headers` are extra header fields, In_Reply_To for In-Reply-To."""
    message_id = make_msgid(domain="customer.example")
    extra = {name.replace("_", "-"): value for name, value in headers.items()}
    dovecot.deliver(user, [email_from(sender, subject, message_id=message_id, headers=extra)])
    return message_id


def _fetch(cli: Cli) -> list[dict[str, Any]]:
    code, runs = cli_json(cli, "fetch", "--once")
    assert code == 0, runs
    return list(runs)


def _flush(cli: Cli) -> dict[str, Any]:
    _, result = cli_json(cli, "outbox", "flush", "--once")
    return dict(result)


def _only_request(cli: Cli) -> dict[str, Any]:
    _, listed = cli_json(cli, "request", "list")
    assert len(listed) == 1, listed
    _, shown = cli_json(cli, "request", "show", str(listed[0]["id"]))
    return dict(shown)


def test_a_reply_joins_the_thread_and_the_customers_answer_comes_back_to_it(
    cli: Cli, dovecot: Dovecot, desk: tuple[str, SmtpServer]
) -> None:
    user, smtp = desk
    asked = _deliver(
        dovecot,
        user,
        "ann@customer.example",
        "Printer on fire",
        Reply_To="help-ann@customer.example",
    )
    _fetch(cli)
    request = _only_request(cli)
    code, item = cli_json(
        cli, "request", "reply", str(request["id"]), "--body", "We are on our way."
    )
    assert code == 0, item
    assert item["kind"] == "reply" and item["sender"] == user
    assert _flush(cli)["sent"] == 1
    sent = smtp.messages[-1].message()
    assert sent["To"] == "help-ann@customer.example"  # Reply-To wins over From
    assert sent["In-Reply-To"] == asked and asked in sent["References"]
    assert sent["Subject"] == f"Re: Printer on fire [#{request['id']}]"
    assert sent["Message-ID"] == item["message_id"]
    # The customer answers in the thread, without the token in the subject.
    _deliver(
        dovecot,
        user,
        "ann@customer.example",
        "Re: Printer on fire",
        In_Reply_To=item["message_id"],
    )
    runs = _fetch(cli)
    assert runs[0]["threaded"] == 1 and runs[0]["opened"] == 0
    thread = _only_request(cli)["thread"]
    assert [m["direction"] for m in thread] == ["in", "out", "in"]
    assert thread[1]["message_id"] == item["message_id"]


def test_the_same_reply_submitted_twice_is_queued_and_threaded_once(
    cli: Cli, dovecot: Dovecot, desk: tuple[str, SmtpServer]
) -> None:
    user, _ = desk
    _deliver(dovecot, user, "ann@customer.example", "Help")
    _fetch(cli)
    request = _only_request(cli)
    args = ("request", "reply", str(request["id"]), "--body", "On it.", "--idempotency-key", "k1")
    _, first = cli_json(cli, *args)
    _, second = cli_json(cli, *args)
    assert first["id"] == second["id"]
    assert [m["direction"] for m in _only_request(cli)["thread"]] == ["in", "out"]


def test_a_user_replies_from_their_default_mailbox_and_never_from_someone_elses(
    cli: Cli, dovecot: Dovecot, desk: tuple[str, SmtpServer], postroom_env: Path
) -> None:
    user, _ = desk
    _deliver(dovecot, user, "ann@customer.example", "Help")
    _fetch(cli)
    request_id = _only_request(cli)["id"]
    with unit_of_work(default_engine()) as db:
        bea = users.add(db, OPERATOR, "bea@example.test", "bea-password-1")
        cyd = users.add(db, OPERATOR, "cyd@example.test", "cyd-password-1")
        for owner, address in ((bea, "bea@example.test"), (cyd, "cyd@example.test")):
            spec = MailboxSpec(address, outgoing="out", owner=owner.email, password="pw")
            add_mailbox_row(db, OPERATOR, spec)
        workflows.give(db, OPERATOR, "Support", bea)  # users work the workflows given them
        as_bea = Actor(label="bea", user_id=bea.id)
        item = replies.reply(db, as_bea, request_id, body="Hello from Bea.")
        assert item.sender == "bea@example.test"
        chosen = replies.reply(db, as_bea, request_id, body="From the desk.", mailbox=user)
        assert chosen.sender == user
        with pytest.raises(NotFound):
            replies.reply(db, as_bea, request_id, body="x", mailbox="cyd@example.test")
        with pytest.raises(InvalidInput):
            replies.reply(db, as_bea, request_id, body="   ")


def test_new_requests_are_acknowledged_but_never_automatic_mail_and_at_most_a_few_a_day(
    cli: Cli,
    dovecot: Dovecot,
    desk: tuple[str, SmtpServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTROOM_ACKNOWLEDGEMENT_LIMIT", "2")
    get_settings.cache_clear()
    user, smtp = desk
    text = tmp_path / "ack.txt"
    text.write_text("Thank you, $requester: request $request ($subject) is open.\n")
    code, workflow = cli_json(
        cli, "workflow", "acknowledge", "Support", "--body-file", str(text),
        "--subject", "Received: $subject",
    )  # fmt: skip
    assert code == 0, workflow
    assert workflow["acknowledgement"]["subject"] == "Received: $subject"
    first = _deliver(dovecot, user, "ann@customer.example", "Broken mouse")
    _deliver(dovecot, user, "noreply@vendor.example", "Your invoice")
    _deliver(
        dovecot,
        user,
        "ooo@customer.example",
        "Out of office",
        Auto_Submitted="auto-replied",
    )
    for n in range(3):  # the third is over the limit of two a day
        _deliver(dovecot, user, "bob@customer.example", f"Question {n}")
    _fetch(cli)
    _, items = cli_json(cli, "outbox", "list")
    acks = [i for i in items if i["kind"] == "acknowledgement"]
    assert sorted(i["recipients"][0]["address"] for i in acks) == [
        "ann@customer.example",
        "bob@customer.example",
        "bob@customer.example",
    ]
    before = len(smtp.messages)
    assert _flush(cli)["sent"] == 3
    to_ann = next(
        m.message() for m in smtp.messages[before:] if m.rcpt_tos == ["ann@customer.example"]
    )
    assert to_ann["Auto-Submitted"] == "auto-replied"
    assert to_ann["In-Reply-To"] == first
    assert to_ann["Subject"].startswith("Received: Broken mouse [#")
    assert "Thank you, ann@customer.example: request" in to_ann.get_content()
    # The acknowledgement coming back (an auto-responder answering it) opens nothing and
    # is not acknowledged: it carries Auto-Submitted and answers a known request.
    _deliver(
        dovecot,
        user,
        "ann@customer.example",
        "Auto: " + str(to_ann["Subject"]),
        In_Reply_To=str(to_ann["Message-ID"]),
        Auto_Submitted="auto-replied",
    )
    runs = _fetch(cli)
    assert runs[0]["opened"] == 0
    _, after = cli_json(cli, "outbox", "list")
    assert len([i for i in after if i["kind"] == "acknowledgement"]) == 3


def test_an_acknowledgement_template_with_an_unknown_placeholder_is_refused(
    cli: Cli, tmp_path: Path
) -> None:
    assert cli("workflow", "add", "Support", "--steps", "New,Done").code == 0
    text = tmp_path / "ack.txt"
    text.write_text("Dear $customer, thanks.")
    result = cli("workflow", "acknowledge", "Support", "--body-file", str(text))
    assert result.code == 1
    assert "$request, $subject, $requester, $workflow" in result.stderr
    _, shown = cli_json(cli, "workflow", "list")
    assert shown[0]["acknowledgement"] is None


def _sent_folder(dovecot: Dovecot, user: str) -> list[bytes]:
    with IMAPClient("127.0.0.1", port=dovecot.imap_port, ssl=False) as client:
        client.login(user, PASSWORD)
        client.select_folder("Sent", readonly=True)
        uids = client.search(["ALL"])
        fetched = client.fetch(uids, ["BODY.PEEK[]", "FLAGS"]) if uids else {}
        assert all(b"\\Seen" in data[b"FLAGS"] for data in fetched.values())
        return [bytes(data[b"BODY[]"]) for data in fetched.values()]


def test_a_sent_email_is_copied_once_to_the_imap_sent_folder(
    cli: Cli, dovecot: Dovecot, desk: tuple[str, SmtpServer]
) -> None:
    user, _ = desk
    code, item = cli_json(cli, "send", "--from", user, "--to", "ann@customer.example",
                          "--subject", "Copied")  # fmt: skip
    assert code == 0, item
    assert item["sent_copy"] == "pending"
    result = _flush(cli)
    assert result["sent"] == 1 and result["copied"] == 1
    copies = _sent_folder(dovecot, user)
    assert len(copies) == 1 and item["message_id"].encode() in copies[0]
    _, shown = cli_json(cli, "outbox", "show", str(item["id"]))
    assert shown["sent_copy"] == "done"
    # A worker that died after APPEND and before its commit tries again: still one copy.
    with unit_of_work(default_engine()) as db:
        row = db.get(OutboxItem, item["id"])
        assert row is not None
        row.sent_copy = "pending"
    assert _flush(cli)["copied"] == 1
    assert len(_sent_folder(dovecot, user)) == 1


def test_a_failed_sent_folder_copy_is_shown_and_retried_on_request_never_resent(
    cli: Cli, dovecot: Dovecot, desk: tuple[str, SmtpServer]
) -> None:
    user, smtp = desk
    dovecot.add_user(user, "a-changed-password")  # the IMAP login now fails; SMTP still works
    _, item = cli_json(cli, "send", "--from", user, "--to", "ann@customer.example")
    before = len(smtp.messages)
    result = _flush(cli)
    assert result["sent"] == 1 and result["copied"] == 0
    _, shown = cli_json(cli, "outbox", "show", str(item["id"]))
    assert shown["state"] == "sent" and shown["sent_copy"] == "failed"
    assert "refused the login" in shown["sent_copy_error"]
    dovecot.add_user(user, PASSWORD)
    code, retried = cli_json(cli, "outbox", "retry", str(item["id"]))
    assert code == 0 and retried["sent_copy"] == "pending"
    assert _flush(cli)["copied"] == 1
    assert len(smtp.messages) == before + 1  # the email itself went once
    assert len(_sent_folder(dovecot, user)) == 1


def test_a_sent_folder_needs_an_imap_incoming_server(cli: Cli, smtp_server: SmtpServer) -> None:
    add_server(cli, "out", "smtp", smtp_server.port, "starttls")
    result = cli(
        "mailbox", "add", "desk@example.test", "--outgoing", "out", "--sent-folder", "Sent",
        "--password-stdin", input="pw\n",
    )  # fmt: skip
    assert result.code == 1
    assert "IMAP incoming server" in result.stderr


def test_a_recipient_of_a_reply_may_answer_into_the_request_a_stranger_may_not(
    cli: Cli, dovecot: Dovecot, desk: tuple[str, SmtpServer]
) -> None:
    user, _ = desk
    _deliver(
        dovecot, user, "ann@customer.example", "Invoice wrong", Reply_To="billing@customer.example"
    )
    _fetch(cli)
    request = _only_request(cli)
    _, item = cli_json(cli, "request", "reply", str(request["id"]), "--body", "Which one?")
    assert _flush(cli)["sent"] == 1  # it went to billing@, who now took part
    _deliver(
        dovecot, user, "billing@customer.example", "Re: Invoice", In_Reply_To=item["message_id"]
    )
    _deliver(dovecot, user, "eve@elsewhere.example", "Re: Invoice", In_Reply_To=item["message_id"])
    runs = _fetch(cli)
    assert (runs[0]["threaded"], runs[0]["opened"]) == (1, 1)
    _, listed = cli_json(cli, "request", "list")
    _, shown = cli_json(cli, "request", "show", str(request["id"]))
    assert [m["sender"] for m in shown["thread"]] == [
        "ann@customer.example",
        user,
        "billing@customer.example",
    ]
    assert sorted(r["requester"] for r in listed) == [
        "ann@customer.example",
        "eve@elsewhere.example",
    ]
