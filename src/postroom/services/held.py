"""Held messages: kept with their reason, visible, and reprocessable exactly once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.errors import Conflict, NotFound
from postroom.inbound.parse import parse_headers
from postroom.inbound.pipeline import Router
from postroom.services import audit
from postroom.services.actors import Actor
from postroom.storage.models import Mailbox, Message


def listing(db: Session, reason: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    query = select(Message).where(Message.status == "held").order_by(Message.id.desc())
    if reason is not None:
        query = query.where(Message.held_reason == reason)
    if limit:
        query = query.limit(limit)
    return [_row(m) for m in db.scalars(query)]


def _row(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "reason": message.held_reason,
        "sender": message.sender,
        "subject": message.subject,
        "size": message.size,
        "received_at": message.received_at.isoformat(),
        "rules": message.rule_hits,
    }


def reprocess(db: Session, actor: Actor, message_id: int) -> dict[str, Any]:
    """Route a held message again with today's settings (a workflow re-activated, say)."""
    query = select(Message).where(Message.id == message_id)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # two admins reprocessing at once: one wins
    message = db.scalar(query)
    if message is None:
        raise NotFound(f"No message {message_id}: `postroom held list` shows the held ones.")
    if message.status != "held":
        raise Conflict(f"Message {message_id} is already in request #{message.request_id}.")
    mailbox = db.get(Mailbox, message.mailbox_id) if message.mailbox_id else None
    if mailbox is None:
        raise Conflict(f"Message {message_id}'s mailbox was removed; it cannot be routed again.")
    headers = parse_headers(message.raw)
    router = Router(db, mailbox, frozenset(db.scalars(select(Mailbox.address))))
    router.prepare([headers])
    router.copies.discard((headers.message_id, headers.sha256))  # it is itself, not a copy
    router.sent[headers.sender] = 0  # the rate cap guards arrival, not an admin's decision
    decision, hits = router.decide(headers)
    request = router.apply(decision, headers)
    trail = [{"rule": h.rule, "reason": h.reason} for h in hits]
    if decision.action == "hold":
        message.held_reason = decision.reason
        message.rule_hits = [*trail, {"rule": "route", "reason": decision.detail or ""}]
    else:
        message.status, message.held_reason, message.request = "routed", None, request
        message.rule_hits = trail
    db.flush()
    audit.record(
        db,
        actor,
        "message.reprocessed",
        f"message {message_id}",
        outcome=decision.action,
        request=message.request_id,
    )
    return _row(message) | {"status": message.status, "request": message.request_id}
