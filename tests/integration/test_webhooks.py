"""Webhooks end to end: events written with the change they describe, signed POSTs to a real
receiver on loopback, retries with backoff, and secrets that never leave postroom twice."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from postroom.errors import InvalidInput
from postroom.services import events, requests, webhook_delivery, webhooks
from postroom.services.actors import OPERATOR
from postroom.storage.db import unit_of_work
from postroom.storage.models import WebhookDelivery, utcnow
from tests.conftest import Cli
from tests.integration.mailhelpers import add_desk, add_mailbox, add_server, cli_json
from tests.mailfactory import email_from, reply_to
from tests.servers.dovecot import Dovecot
from tests.servers.http import Request
from tests.servers.smtp import SmtpServer
from tests.servers.webhook_receiver import HANG, WebhookReceiver

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def add_webhook(cli: Cli, url: str, *kinds: str, name: str = "crm") -> str:
    args = [a for k in kinds for a in ("--event", k)]
    code, data = cli_json(cli, "webhook", "add", name, "--url", url, *args)
    assert code == 0, data
    secret: str = data["secret"]
    return secret


def verify(request: Request, secret: str) -> dict[str, Any]:
    """What a receiver does: recompute the HMAC over "t.body" and compare in constant time."""
    parts = dict(p.split("=", 1) for p in request.headers["postroom-signature"].split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"])
    payload: dict[str, Any] = json.loads(request.body)
    return payload


def deliveries(engine: Engine) -> list[WebhookDelivery]:
    with unit_of_work(engine) as db:
        rows = list(db.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
        db.expunge_all()
        return rows


def make_due(engine: Engine) -> None:
    """Backoff elapsed: what the clock would do, without waiting for it."""
    with engine.begin() as connection:
        connection.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.state == "pending")
            .values(next_attempt_at=WebhookDelivery.created_at)
        )


@pytest.mark.usefixtures("database_url")
def test_an_email_that_opens_a_request_is_posted_once_signed(
    cli: Cli, dovecot: Dovecot, engine: Engine, receiver: WebhookReceiver
) -> None:
    secret = add_webhook(cli, receiver.url, "request.opened")
    user = add_desk(cli, dovecot, "imap", dovecot.imap_port)
    dovecot.deliver(user, [email_from("ann@example.org", "Printer on fire")])
    assert cli("fetch", "--once").code == 0

    rows = deliveries(engine)
    assert [(d.kind, d.state) for d in rows] == [("request.opened", "pending")]
    code, result = cli_json(cli, "webhook", "flush", "--once")
    assert code == 0 and result["delivered"] == 1

    [request] = receiver.received
    payload = verify(request, secret)
    assert request.headers["postroom-event"] == "request.opened"
    assert request.headers["postroom-delivery"] == rows[0].uid
    assert request.headers["content-type"] == "application/json"
    assert payload["type"] == "request.opened" and payload["id"] == rows[0].event_id
    assert payload["data"]["request"]["subject"] == "Printer on fire"
    assert payload["data"]["request"]["step"] == "Triage"
    assert payload["data"]["message"]["sender"] == "ann@example.org"
    assert "raw" not in payload["data"]["message"]
    # Nothing more is due: a second flush sends nothing.
    assert cli_json(cli, "webhook", "flush", "--once")[1]["delivered"] == 0
    assert len(receiver.received) == 1


@pytest.mark.usefixtures("database_url")
def test_a_500_is_retried_and_delivered_once(
    cli: Cli, engine: Engine, receiver: WebhookReceiver
) -> None:
    add_webhook(cli, receiver.url, "*")
    receiver.answer(500)
    assert cli_json(cli, "webhook", "test", "crm")[0] == 1
    [row] = deliveries(engine)
    assert (row.state, row.attempts, row.last_status) == ("pending", 1, 500)
    assert row.last_error == "the receiver answered HTTP 500"
    # Not due yet: backoff holds it back.
    assert cli_json(cli, "webhook", "flush", "--once")[1]["delivered"] == 0
    make_due(engine)
    code, result = cli_json(cli, "webhook", "flush", "--once")
    assert code == 0 and result["delivered"] == 1
    [row] = deliveries(engine)
    assert (row.state, row.attempts, row.last_status, row.last_error) == ("delivered", 2, 200, None)
    assert len(receiver.received) == 2
    assert len({r.headers["postroom-delivery"] for r in receiver.received}) == 1


def test_a_receiver_that_does_not_answer_in_time_is_retried(
    cli: Cli, engine: Engine, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTROOM_WEBHOOK_TIMEOUT", "0.3")
    from postroom.config import get_settings

    get_settings.cache_clear()
    add_webhook(cli, receiver.url, "*")
    receiver.answer(HANG)
    assert cli_json(cli, "webhook", "test", "crm")[0] == 1
    [row] = deliveries(engine)
    assert (row.state, row.last_status) == ("pending", None)
    assert row.last_error == "the receiver did not answer in time"
    receiver.release.set()
    make_due(engine)
    assert cli_json(cli, "webhook", "flush", "--once")[1]["delivered"] == 1


def test_a_slow_receiver_does_not_hold_up_another(
    cli: Cli, engine: Engine, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTROOM_WEBHOOK_TIMEOUT", "0.3")
    from postroom.config import get_settings

    get_settings.cache_clear()
    with WebhookReceiver() as other:
        add_webhook(cli, receiver.url, "request.moved", name="slow")
        add_webhook(cli, other.url, "request.moved", name="fast")
        receiver.answer(HANG, HANG)
        with unit_of_work(engine) as db:
            events.emit(db, "request.moved", {"request": {"id": 1}})
            events.emit(db, "request.moved", {"request": {"id": 2}})
        result = webhook_delivery.flush_once(engine)
        assert result.delivered == 2 and result.retrying == 1  # the second slow one waits
        assert len(other.received) == 2
        assert len(receiver.received) == 1  # after one timeout the rest waits, not times out
        states = sorted((d.subscription_id, d.state, d.attempts) for d in deliveries(engine))
        assert [s[1:] for s in states] == [
            ("pending", 0),
            ("pending", 1),
            ("delivered", 1),
            ("delivered", 1),
        ]


def test_a_disabled_webhook_gets_nothing(
    cli: Cli, engine: Engine, receiver: WebhookReceiver
) -> None:
    add_webhook(cli, receiver.url, "*")
    assert cli("webhook", "disable", "crm").code == 0
    with unit_of_work(engine) as db:
        assert events.emit(db, "request.moved", {"request": {"id": 1}}) == 0
    assert deliveries(engine) == []
    assert cli_json(cli, "webhook", "flush", "--once")[1]["delivered"] == 0
    assert receiver.received == []


def test_only_the_events_chosen_are_queued(engine: Engine) -> None:
    with unit_of_work(engine) as db:
        webhooks.add(db, OPERATOR, "moves", "https://crm.example/hook", ["request.moved"])
        assert events.emit(db, "message.held", {}) == 0
        assert events.emit(db, "request.moved", {}) == 1
    assert [d.kind for d in deliveries(engine)] == ["request.moved"]


@pytest.mark.usefixtures("database_url")
def test_no_event_when_the_change_rolls_back(engine: Engine) -> None:
    with unit_of_work(engine) as db:
        webhooks.add(db, OPERATOR, "all", "https://crm.example/hook", ["*"])
    with pytest.raises(RuntimeError), unit_of_work(engine) as db:
        events.emit(db, "request.moved", {"request": {"id": 1}})
        raise RuntimeError("the change failed after the event was written")
    assert deliveries(engine) == []
    with unit_of_work(engine) as db:
        events.emit(db, "request.moved", {"request": {"id": 1}})
    assert [d.kind for d in deliveries(engine)] == ["request.moved"]


@pytest.mark.usefixtures("database_url")
def test_two_workers_never_claim_the_same_delivery(engine: Engine) -> None:
    with unit_of_work(engine) as db:
        webhooks.add(db, OPERATOR, "all", "https://crm.example/hook", ["*"])
        for n in range(5):
            events.emit(db, "request.moved", {"request": {"id": n}})
    now = utcnow()
    first = webhook_delivery._claim(engine, "a", now, False, None)
    second = webhook_delivery._claim(engine, "b", now, False, None)
    assert len(first) == 5 and second == []
    # A lease that ran out (the worker died) puts them back.
    webhook_delivery.sweep(engine, now + webhook_delivery.LEASE * 2)
    assert len(webhook_delivery._claim(engine, "b", now, False, None)) == 5


@pytest.mark.parametrize(
    "url",
    [
        "ftp://crm.example/hook",
        "https://user:pass@crm.example/hook",
        "https://token@crm.example/hook",
        "https:///nohost",
        "javascript:alert(1)",
    ],
)
def test_a_bad_url_is_refused(engine: Engine, url: str) -> None:
    with unit_of_work(engine) as db, pytest.raises(InvalidInput):
        webhooks.add(db, OPERATOR, "bad", url, ["*"])


def test_an_unknown_event_is_refused(cli: Cli) -> None:
    result = cli("webhook", "add", "x", "--url", "https://crm.example/", "--event", "nope")
    assert result.code == 1 and "Unknown event nope" in result.stderr


def test_the_secret_is_shown_once_and_never_again(
    cli: Cli, engine: Engine, receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = add_webhook(cli, receiver.url, "*")
    receiver.answer(500)
    outputs = [
        cli("webhook", "list", "--json").stdout,
        cli("webhook", "show", "crm", "--json").stdout,
        cli("webhook", "show", "crm").stdout,
        cli("webhook", "test", "crm", "--json").stdout,
        cli("webhook", "deliveries", "--json").stdout,
        cli("audit", "--json").stdout,
    ]
    assert json.loads(outputs[1])["secret_set"] is True
    code, rotated = cli_json(cli, "webhook", "rotate-secret", "crm")
    assert code == 0 and rotated["secret"] != secret
    outputs.append(cli("webhook", "show", "crm", "--json").stdout)
    for text in [*outputs, caplog.text]:
        assert secret not in text and rotated["secret"] not in text
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT secret FROM webhook_subscriptions").scalar()
    assert isinstance(stored, bytes) and secret.encode() not in stored
    # The new secret signs from now on.
    assert cli("webhook", "test", "crm").code == 0
    verify(receiver.received[-1], rotated["secret"])


def test_redeliver_sends_a_failed_delivery_again(
    cli: Cli, engine: Engine, receiver: WebhookReceiver
) -> None:
    add_webhook(cli, receiver.url, "*")
    receiver.answer(410)
    cli("webhook", "test", "crm")
    with engine.begin() as connection:  # past its deadline, as three days later
        connection.execute(update(WebhookDelivery).values(deadline_at=WebhookDelivery.created_at))
    make_due(engine)
    receiver.answer(410)
    code, result = cli_json(cli, "webhook", "flush", "--once")
    assert code == 1 and result["failed"] == 1
    [row] = deliveries(engine)
    assert (row.state, row.last_status) == ("failed", 410)
    _, failed = cli_json(cli, "webhook", "deliveries", "--state", "failed")
    assert [d["id"] for d in failed] == [row.id]
    assert cli("webhook", "redeliver", str(row.id)).code == 0
    assert cli_json(cli, "webhook", "flush", "--once")[1]["delivered"] == 1
    assert len(receiver.received) == 3


def test_removing_a_webhook_removes_its_queue(cli: Cli, engine: Engine) -> None:
    add_webhook(cli, "https://crm.example/hook", "*", name=f"w{uuid.uuid4().hex[:4]}")
    with unit_of_work(engine) as db:
        events.emit(db, "request.moved", {})
    [name] = [w["name"] for w in cli_json(cli, "webhook", "list")[1]]
    assert cli("webhook", "remove", name).code == 0
    assert deliveries(engine) == []


def kinds(engine: Engine) -> list[str]:
    return [d.kind for d in deliveries(engine)]


@pytest.mark.usefixtures("trust_test_ca", "database_url")
def test_each_change_writes_its_event(
    cli: Cli, dovecot: Dovecot, engine: Engine, smtp_server: SmtpServer
) -> None:
    with unit_of_work(engine) as db:
        webhooks.add(db, OPERATOR, "all", "https://crm.example/hook", ["*"])
    user = add_desk(cli, dovecot, "imap", dovecot.imap_port)
    first = email_from("ann@example.org", "Printer on fire")
    dovecot.deliver(user, [first])
    assert cli("fetch", "--once").code == 0
    assert kinds(engine) == ["request.opened", "mailbox.state_changed"]  # the mail, new -> ok

    dovecot.deliver(user, [reply_to(first, "ann@example.org"), b"not an email at all"])
    assert cli("fetch", "--once").code == 0
    assert kinds(engine)[2:] == ["request.updated", "message.held"]
    opened = deliveries(engine)[0].payload["data"]["request"]
    updated = deliveries(engine)[2].payload["data"]
    assert updated["request"]["id"] == opened["id"]
    assert deliveries(engine)[3].payload["data"]["reason"] == "unparseable"

    with unit_of_work(engine) as db:
        requests.move(db, OPERATOR, opened["id"], "Done")
    moved = deliveries(engine)[4]
    assert moved.kind == "request.moved"
    assert (moved.payload["data"]["request"]["step"], moved.payload["data"]["previous_step"]) == (
        "Done",
        "Triage",
    )

    add_server(cli, "out", "smtp", smtp_server.port, "starttls")
    add_mailbox(cli, "desk@example.test", "desk-pass-1", "--outgoing", "out")
    code, item = cli_json(cli, "send", "--from", "desk@example.test", "--to", "bob@example.org")
    assert code == 0
    assert cli("outbox", "flush", "--once").code == 0
    sent = deliveries(engine)[-1]
    assert sent.kind == "outbox.sent"
    assert sent.payload["data"]["outbox_item"]["id"] == item["id"]
    assert sent.payload["data"]["outbox_item"]["recipients"] == [
        {"address": "bob@example.org", "status": "accepted"}
    ]

    dsn = (DATA / "dsn_bounce.eml").read_bytes()
    dsn = dsn.replace(b"<original-42@example.test>", item["message_id"].encode())
    dovecot.deliver(user, [dsn.replace(b"nobody@example.net", b"bob@example.org")])
    assert cli("fetch", "--once").code == 0
    bounced = [d for d in deliveries(engine) if d.kind == "outbox.bounced"]
    assert [b.payload["data"]["outbox_item"]["id"] for b in bounced] == [item["id"]]


@pytest.mark.usefixtures("database_url")
def test_an_email_given_up_writes_outbox_failed(cli: Cli, engine: Engine) -> None:
    from postroom.storage.models import OutboxItem

    with unit_of_work(engine) as db:
        webhooks.add(db, OPERATOR, "all", "https://crm.example/hook", ["outbox.failed"])
    add_server(cli, "out", "smtp", 1, "none")  # nothing listens on port 1
    add_mailbox(cli, "desk@example.test", "desk-pass-1", "--outgoing", "out")
    assert cli("send", "--from", "desk@example.test", "--to", "bob@example.org").code == 0
    with engine.begin() as connection:  # its deadline passed: this attempt is the last
        connection.execute(update(OutboxItem).values(deadline_at=OutboxItem.created_at))
    assert cli("outbox", "flush", "--once").code == 1
    [failed] = deliveries(engine)
    assert failed.kind == "outbox.failed"
    assert failed.payload["data"]["outbox_item"]["state"] == "failed"


def test_a_refused_password_writes_mailbox_state_changed(
    cli: Cli, dovecot: Dovecot, engine: Engine
) -> None:
    with unit_of_work(engine) as db:
        webhooks.add(db, OPERATOR, "all", "https://crm.example/hook", ["mailbox.state_changed"])
    user = f"desk-{uuid.uuid4().hex[:8]}@example.test"
    dovecot.add_user(user, "right-pass")
    add_server(cli, "in", "imap", dovecot.imap_port, "none")
    add_mailbox(cli, user, "wrong-pass", "--incoming", "in")
    assert cli("fetch", "--once").code == 1
    assert cli("fetch", "--once").code == 1  # still failing: no second event
    [changed] = deliveries(engine)
    data = changed.payload["data"]["mailbox"]
    assert (data["address"], data["state"], data["previous_state"]) == (user, "auth-failed", "new")
    assert "wrong-pass" not in json.dumps(changed.payload)


def test_the_scheduler_delivers_what_is_queued(engine: Engine, receiver: WebhookReceiver) -> None:
    from postroom.workers.scheduler import Scheduler

    with unit_of_work(engine) as db:
        webhooks.add(db, OPERATOR, "crm", receiver.url, ["request.moved"])
        events.emit(db, "request.moved", {"request": {"id": 7}})
    scheduler = Scheduler(engine, idle=False)
    scheduler.start()
    try:
        with receiver.arrived:
            assert receiver.arrived.wait_for(lambda: receiver.received, timeout=10)
    finally:
        scheduler.stop()
    assert json.loads(receiver.received[0].body)["data"] == {"request": {"id": 7}}


@pytest.mark.usefixtures("database_url")
def test_settled_deliveries_are_deleted_after_the_retention_and_pending_ones_kept(
    engine: Engine,
) -> None:
    with unit_of_work(engine) as db:
        webhooks.add(db, OPERATOR, "all", "https://crm.example/hook", ["*"])
        for _ in range(3):
            events.emit(db, "request.moved", {})
    first, second, third = (d.id for d in deliveries(engine))
    with engine.begin() as connection:
        for row_id, state in ((first, "delivered"), (second, "failed"), (third, "pending")):
            connection.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == row_id).values(state=state)
            )
    later = utcnow() + webhook_delivery.RETENTION
    webhook_delivery.sweep(engine, later - webhook_delivery.LEASE)  # not old enough yet
    assert len(deliveries(engine)) == 3
    webhook_delivery.sweep(engine, later + webhook_delivery.LEASE)
    assert [(d.id, d.state) for d in deliveries(engine)] == [(third, "pending")]


def test_a_disabled_webhook_is_not_tested(cli: Cli, receiver: WebhookReceiver) -> None:
    add_webhook(cli, receiver.url, "*")
    cli("webhook", "disable", "crm")
    result = cli("webhook", "test", "crm")
    assert result.code == 1 and "switch it on" in result.stderr
    assert receiver.received == []
