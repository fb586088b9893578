"""What became of each email we sent in a request's thread: the outbox row's state, told as a
person reads it (queued, sending, sent, deferred with its reason and next try, failed,
uncertain, bounced), never "sent" before the server took it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, not_, or_, select
from sqlalchemy.orm import Session

from postroom.storage.models import OutboxItem, OutboxRecipient

SETTLED = frozenset({"sent", "failed", "bounced", "uncertain", "cancelled"})


def state_of(item: OutboxItem) -> str:
    """ "deferred": queued again after a try the server (or the network) turned away, told by
    the recipients' last answer (a pending recipient keeps it; a person's retry clears it)."""
    answered = any(r.status == "pending" and r.code is not None for r in item.recipients)
    return "deferred" if item.state == "queued" and answered else item.state


def _answered() -> ColumnElement[bool]:
    pending = select(OutboxRecipient.item_id).where(
        OutboxRecipient.status == "pending", OutboxRecipient.code.is_not(None)
    )
    return OutboxItem.id.in_(pending)


def shown_as(state: str) -> ColumnElement[bool]:
    """The rows a person means by a state, as state_of tells them: "deferred" is also a
    queued row that a server turned away, and "queued" only one waiting for its first try."""
    if state == "deferred":
        return or_(OutboxItem.state == "deferred", and_(OutboxItem.state == "queued", _answered()))
    if state == "queued":
        return and_(OutboxItem.state == "queued", not_(_answered()))
    return OutboxItem.state == state


def delivery(item: OutboxItem) -> dict[str, Any]:
    state = state_of(item)
    waiting = state in ("queued", "deferred")
    return {
        "outbox_id": item.id,
        "state": state,
        "settled": state in SETTLED,
        "reason": item.last_error if state != "sent" else None,
        "next_attempt_at": item.next_attempt_at.isoformat() if waiting else None,
        "attempts": item.attempts,
    }


def by_message_id(db: Session, message_ids: list[str]) -> dict[str, OutboxItem]:
    """The outbox rows behind these Message-IDs, in one query."""
    if not message_ids:
        return {}
    rows = db.scalars(select(OutboxItem).where(OutboxItem.message_id.in_(message_ids)))
    return {row.message_id: row for row in rows}
