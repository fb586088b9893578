"""What became of each email we sent in a request's thread: the outbox row's state, told as a
person reads it (queued, sending, sent, deferred with its reason and next try, failed,
uncertain, bounced), never "sent" before the server took it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.domain.outbox import shown_state
from postroom.storage.models import OutboxItem

SETTLED = frozenset({"sent", "failed", "bounced", "uncertain", "cancelled"})


def state_of(item: OutboxItem) -> str:
    """As domain/outbox.shown_state tells it from the recipients' last answers."""
    return shown_state(item.state, [(r.status, r.code) for r in item.recipients])


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
