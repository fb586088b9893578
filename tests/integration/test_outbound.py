"""Outbound mail through the outbox against real SMTP servers: queued, sent once, retried on
4xx, failed on 5xx, recorded per recipient."""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from postroom.outbound.compose import Draft
from postroom.services import delivery, outbox
from postroom.services.actors import OPERATOR
from postroom.storage.db import unit_of_work
from tests.conftest import Cli
from tests.integration.mailhelpers import add_desk, add_mailbox, add_server, cli_json
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer

SENDER = "desk@example.test"
DATA = Path(__file__).parents[1] / "data"

pytestmark = pytest.mark.usefixtures("trust_test_ca")


@pytest.fixture
def outbound(cli: Cli, smtp_server: SmtpServer) -> Cli:
    add_server(cli, "out", "smtp", smtp_server.port, "starttls")
    add_mailbox(cli, SENDER, "desk-pass-1", "--outgoing", "out")
    return cli


def _send(cli: Cli, *args: str) -> dict[str, Any]:
    code, data = cli_json(cli, "send", "--from", SENDER, *args)
    assert code == 0, data
    assert isinstance(data, dict)
    return data


def _flush(cli: Cli, *args: str) -> dict[str, Any]:
    _, data = cli_json(cli, "outbox", "flush", "--once", *args)
    assert isinstance(data, dict)
    return data


def test_a_queued_email_is_sent_once_with_its_fixed_message_id(
    outbound: Cli, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    body = tmp_path / "body.txt"
    body.write_text("The printer is fixed.\n")
    before = len(smtp_server.messages)
    item = _send(
        outbound,
        "--to",
        "ann@example.org",
        "--cc",
        "bob@example.org",
        "--subject",
        "Fixed",
        "--body-file",
        str(body),
    )
    assert item["state"] == "queued"
    assert _flush(outbound)["sent"] == 1
    received = smtp_server.wait_for(before + 1)[-1]
    assert received.rcpt_tos == ["ann@example.org", "bob@example.org"]
    email = message_from_bytes(received.data, policy=policy.default)
    assert email["Message-ID"] == item["message_id"]
    assert email["X-Postroom-Outbox"] == str(item["id"])
    assert "The printer is fixed." in email.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert _flush(outbound)["sent"] == 0  # nothing is sent twice
    assert len(smtp_server.messages) == before + 1
    _, shown = cli_json(outbound, "outbox", "show", str(item["id"]))
    assert shown["state"] == "sent"
    assert [r["status"] for r in shown["recipients"]] == ["accepted", "accepted"]


def test_the_same_idempotency_key_queues_once(outbound: Cli) -> None:
    first = _send(outbound, "--to", "ann@example.org", "--idempotency-key", "order-77")
    again = _send(outbound, "--to", "ann@example.org", "--idempotency-key", "order-77")
    assert first["id"] == again["id"]
    _, items = cli_json(outbound, "outbox", "list")
    assert len(items) == 1


def test_the_same_idempotency_key_for_another_email_is_refused(outbound: Cli) -> None:
    _send(outbound, "--to", "ann@example.org", "--idempotency-key", "order-78")
    other = ("--to", "bob@example.org", "--idempotency-key", "order-78", "--json")
    refused = outbound("send", "--from", SENDER, *other)
    error = json.loads(refused.stderr)
    assert refused.code == 1 and error["error"] == "conflict" and "order-78" in error["message"]
    _, items = cli_json(outbound, "outbox", "list")
    assert [i["recipients"][0]["address"] for i in items] == ["ann@example.org"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "not-an-address"], "not a valid email address"),
        (["--to", "ann@example.org", "--subject", "Hi\r\nBcc: victim@example.org"], "line break"),
    ],
)
def test_bad_input_is_refused_before_anything_is_queued(
    outbound: Cli, args: list[str], message: str
) -> None:
    result = outbound("send", "--from", SENDER, *args)
    assert result.code == 1
    assert message in result.stderr.lower() or message in result.stderr
    _, items = cli_json(outbound, "outbox", "list")
    assert items == []


def test_an_unreachable_server_defers_the_email_and_says_why(cli: Cli) -> None:
    add_server(cli, "out", "smtp", 1, "none")
    add_mailbox(cli, SENDER, "desk-pass-1", "--outgoing", "out")
    _send(cli, "--to", "ann@example.org")
    code, result = cli_json(cli, "outbox", "flush", "--once")
    assert code == 1 and result["deferred"] == 1
    _, items = cli_json(cli, "outbox", "list")
    assert items[0]["state"] == "queued" and items[0]["attempts"] == 1
    assert items[0]["next_attempt_at"] is not None


def test_a_bounce_for_an_email_we_sent_marks_that_recipient_bounced(
    outbound: Cli, smtp_server: SmtpServer, dovecot: Dovecot
) -> None:
    item = _send(outbound, "--to", "ann@example.org", "--to", "nobody@example.net")
    _flush(outbound)
    user = add_desk(outbound, dovecot, "imap", dovecot.imap_port)
    dsn = (
        (DATA / "dsn_bounce.eml")
        .read_bytes()
        .replace(b"<original-42@example.test>", item["message_id"].encode())
    )
    dovecot.deliver(user, [dsn])
    code, _ = cli_json(outbound, "fetch", "--once")
    assert code == 0
    _, shown = cli_json(outbound, "outbox", "show", str(item["id"]))
    statuses = {r["address"]: (r["status"], r["detail"]) for r in shown["recipients"]}
    assert statuses["ann@example.org"] == ("accepted", None)
    assert statuses["nobody@example.net"] == ("bounced", "5.1.1 smtp; 550 5.1.1 user unknown")
    assert shown["state"] == "sent"  # ann has it; one recipient bounced


def test_an_email_whose_only_recipient_bounced_is_bounced(
    outbound: Cli, smtp_server: SmtpServer, dovecot: Dovecot
) -> None:
    item = _send(outbound, "--to", "nobody@example.net")
    _flush(outbound)
    user = add_desk(outbound, dovecot, "imap", dovecot.imap_port)
    dovecot.deliver(
        user,
        [
            (DATA / "dsn_bounce.eml")
            .read_bytes()
            .replace(b"<original-42@example.test>", item["message_id"].encode())
        ],
    )
    cli_json(outbound, "fetch", "--once")
    _, shown = cli_json(outbound, "outbox", "show", str(item["id"]))
    assert shown["state"] == "bounced"
    assert "550 5.1.1 user unknown" in shown["last_error"]


def test_workers_flushing_at_once_send_each_email_exactly_once(
    database_url: str, cli: Cli, engine: Engine
) -> None:
    """Several workers (threads here, machines in production) claim from one outbox; on
    SQLite and PostgreSQL each email is claimed by one of them and sent once."""
    with SmtpServer(users={SENDER: "desk-pass-1"}, tls=False) as server:
        add_server(cli, "plain", "smtp", server.port, "none")
        add_mailbox(cli, SENDER, "desk-pass-1", "--outgoing", "plain")
        with unit_of_work(engine) as db:
            for n in range(60):
                draft = Draft(sender=SENDER, to=(f"c{n}@example.org",), subject=f"Case {n}")
                outbox.enqueue(db, OPERATOR, draft, audited=False)
        start = threading.Barrier(3)

        def worker() -> int:
            start.wait()
            return delivery.flush_once(engine).sent

        with ThreadPoolExecutor(3) as pool:
            sent = [f.result() for f in [pool.submit(worker) for _ in range(3)]]
        received = Counter(str(m.message()["Message-ID"]) for m in server.messages)
    assert sum(sent) == 60 and len(received) == 60
    assert set(received.values()) == {1}
