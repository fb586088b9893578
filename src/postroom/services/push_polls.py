"""How push changes polling: a mailbox whose provider notifies postroom is polled only as a
safety net, and a notification that came during a fetch means fetching again. Apart from
services/push.py so that fetching needs no HTTP client to ask."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.storage.models import Mailbox, PushSubscription, aware

SAFETY_POLL = timedelta(minutes=15)  # the slowest poll of a mailbox that push keeps current


def poll_interval(db: Session, mailbox: Mailbox) -> timedelta:
    """A mailbox under an active push is polled only as a safety net."""
    interval = timedelta(seconds=mailbox.poll_interval)
    active = db.scalar(
        select(PushSubscription.id).where(
            PushSubscription.mailbox_id == mailbox.id, PushSubscription.state == "active"
        )
    )
    return max(interval, SAFETY_POLL) if active else interval


def notified_since(db: Session, mailbox_id: int, moment: datetime) -> bool:
    """A notification came while a fetch ran: fetch again instead of waiting for the poll."""
    at = db.scalar(
        select(PushSubscription.notified_at).where(PushSubscription.mailbox_id == mailbox_id)
    )
    return at is not None and aware(at) >= moment
