"""Events for webhooks, written as delivery rows in the transaction of the change they tell
about: a rolled-back change leaves no event, a committed one always has its rows (an outbox,
not a message bus). The delivery worker (services/webhook_delivery.py) sends them later.

Payloads carry ids and the fields a consumer acts on, never secrets or raw message bytes.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from postroom.domain.events import ALL as ALL
from postroom.domain.events import EVENTS as EVENTS
from postroom.storage.models import (
    Mailbox,
    Message,
    OutboxItem,
    Request,
    WebhookDelivery,
    WebhookSubscription,
    utcnow,
)

TEST_EVENT = "webhook.test"  # sent by `webhook test` to one subscription, whatever it wants
DEADLINE = timedelta(days=3)  # how long a delivery is retried, as Stripe does


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def envelope(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": new_id("evt"), "type": kind, "created_at": utcnow().isoformat(), "data": data}


Subscribers = list[tuple[int, list[str]]]


def subscribers(db: Session | Connection) -> Subscribers:
    """The active subscriptions and the events each wants: a hot path (sending many emails)
    reads them once and passes them to `emit`."""
    query = select(WebhookSubscription.id, WebhookSubscription.events)
    return [(sid, kinds) for sid, kinds in db.execute(query.where(WebhookSubscription.active))]


def emit(
    db: Session | Connection,
    kind: str,
    data: dict[str, Any],
    subscribed: Subscribers | None = None,
) -> int:
    """Queue the event for every active subscription that wants it; returns how many."""
    return emit_many(db, [(kind, data)], subscribed)


def emit_many(
    db: Session | Connection,
    changes: list[tuple[str, dict[str, Any]]],
    subscribed: Subscribers | None = None,
) -> int:
    """Several events in one INSERT: a fetch batch's messages cost one statement, not one each."""
    if not changes:
        return 0
    if subscribed is None:
        subscribed = subscribers(db)
    if not subscribed:
        return 0
    now = utcnow()
    rows = []
    for kind, data in changes:
        payload: dict[str, Any] | None = None
        for sid, kinds in subscribed:
            if kind in kinds or ALL in kinds:
                payload = payload or envelope(kind, data)
                rows.append(_row(kind, payload, sid, now))
    if rows:
        db.execute(insert(WebhookDelivery), rows)
    return len(rows)


def queue(
    db: Session | Connection, kind: str, payload: dict[str, Any], subscription_ids: list[int]
) -> list[str]:
    now = utcnow()
    rows = [_row(kind, payload, sid, now) for sid in subscription_ids]
    db.execute(insert(WebhookDelivery), rows)
    return [r["uid"] for r in rows]


def _row(kind: str, payload: dict[str, Any], subscription_id: int, now: datetime) -> dict[str, Any]:
    return {
        "uid": new_id("whd"),
        "event_id": payload["id"],
        "subscription_id": subscription_id,
        "kind": kind,
        "payload": payload,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "deadline_at": now + DEADLINE,
        "created_at": now,
    }


def request_data(request: Request) -> dict[str, Any]:
    return {
        "request": {
            "id": request.id,
            "workflow": request.workflow.name,
            "step": request.step.name if request.step else None,
            "subject": request.subject,
            "requester": request.requester,
            "mailbox_id": request.mailbox_id,
        }
    }


def message_data(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "mailbox_id": message.mailbox_id,
        "message_id": message.message_id_header,
        "sender": message.sender,
        "subject": message.subject,
        "size": message.size,
        "received_at": message.received_at.isoformat() if message.received_at else None,
    }


def message_change(message: Message, action: str) -> tuple[str, dict[str, Any]]:
    """The event of an inbound message placed: a request opened, a thread grown, or held."""
    if action == "hold":
        return "message.held", {"message": message_data(message), "reason": message.held_reason}
    assert message.request is not None
    kind = "request.opened" if action == "open" else "request.updated"
    return kind, request_data(message.request) | {"message": message_data(message)}


def message_stored(db: Session, message: Message, action: str) -> None:
    emit(db, *message_change(message, action))


def messages_stored(db: Session, placed: list[tuple[Message, str]]) -> None:
    """A fetch batch's messages, in its transaction, with one INSERT."""
    emit_many(db, [message_change(m, action) for m, action in placed])


def outbox_outcome(
    db: Session | Connection,
    item: OutboxItem | dict[str, Any],
    subscribed: Subscribers | None = None,
) -> None:
    """outbox.sent, outbox.failed or outbox.bounced; `item` is a row or its settled values."""
    if isinstance(item, OutboxItem):
        data = {"id": item.id, "state": item.state, "sender": item.sender}
        data |= {"request_id": item.request_id, "last_error": item.last_error}
        data["recipients"] = [
            {"address": r.address, "status": r.status, "code": r.code} for r in item.recipients
        ]
    else:
        data = dict(item)
    emit(db, f"outbox.{data['state']}", {"outbox_item": data}, subscribed)


def mailbox_state_changed(db: Session, mailbox: Mailbox, before: str) -> None:
    if mailbox.state == before:
        return
    data = {
        "id": mailbox.id,
        "address": mailbox.address,
        "state": mailbox.state,
        "previous_state": before,
        "last_error": mailbox.last_error,
    }
    emit(db, "mailbox.state_changed", {"mailbox": data})
