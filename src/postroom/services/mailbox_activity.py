"""A mailbox's last 30 days at a glance, and what needs a person's attention now.

Counted by the database (GROUP BY mailbox and day), never row by row in Python: the home page
of a tenant with thousands of mailboxes is a handful of queries. Messages are the stored
emails; failures are the failed fetches (fetch_runs) and the emails that could not be fetched
or stored (fetch_failures), on the day they last failed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from postroom.domain.settings import MailboxState
from postroom.services import held, mailboxes, outbox
from postroom.services.actors import Actor
from postroom.storage.models import FetchFailure, FetchRun, Mailbox, Message, OutboxItem

DAYS = 30
# A person must act: the server refused, cannot be reached, or the settings cannot work.
FAILING = tuple(
    s.value
    for s in MailboxState
    if s not in (MailboxState.NEW, MailboxState.OK, MailboxState.DISABLED, MailboxState.RETRYING)
)


@dataclass
class Activity:
    """Per day, oldest first, `DAYS` entries ending today (UTC)."""

    days: list[date]
    messages: list[int] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)


def _days(today: date) -> list[date]:
    return [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]


def _as_day(value: Any) -> date:
    """SQLite's date() gives text, PostgreSQL's a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _per_day(
    db: Session, ids: Select[Any], column: Any, mailbox: Any, since: datetime, *where: Any
) -> dict[tuple[int, date], int]:
    day = func.date(column)
    rows = db.execute(
        select(mailbox, day, func.count())
        .where(mailbox.in_(ids), column >= since, *where)
        .group_by(mailbox, day)
    ).all()
    return {(mid, _as_day(d)): n for mid, d, n in rows}


def daily(db: Session, actor: Actor, today: date | None = None) -> dict[int, Activity]:
    """Messages and failures a day for each mailbox the actor manages: three grouped queries."""
    today = today or datetime.now(UTC).date()
    days = _days(today)
    since = datetime.combine(days[0], time.min, tzinfo=UTC)
    ids = mailboxes.visible_to(actor).with_only_columns(Mailbox.id)
    messages = _per_day(db, ids, Message.received_at, Message.mailbox_id, since)
    failed_runs = _per_day(
        db, ids, FetchRun.requested_at, FetchRun.mailbox_id, since, FetchRun.state == "failed"
    )
    failed_mail = _per_day(db, ids, FetchFailure.updated_at, FetchFailure.mailbox_id, since)
    found: dict[int, Activity] = defaultdict(lambda: Activity(days))
    for mailbox_id in db.scalars(ids):
        activity = found[mailbox_id]
        activity.messages = [messages.get((mailbox_id, d), 0) for d in days]
        activity.failures = [
            failed_runs.get((mailbox_id, d), 0) + failed_mail.get((mailbox_id, d), 0) for d in days
        ]
    return dict(found)


def _count(db: Session, query: Select[Any]) -> int:
    return db.scalar(select(func.count()).select_from(query.subquery())) or 0


def attention(db: Session, actor: Actor) -> dict[str, int]:
    """What the home page asks a person to look at, within what the actor may see."""
    failing: ColumnElement[bool] = Mailbox.state.in_(FAILING) | Mailbox.send_state.in_(FAILING)
    return {
        "failing": _count(db, mailboxes.visible_to(actor).where(failing)),
        "uncertain": _count(
            db, outbox.visible(select(OutboxItem.id).where(OutboxItem.state == "uncertain"), actor)
        ),
        "failed": _count(
            db, outbox.visible(select(OutboxItem.id).where(OutboxItem.state == "failed"), actor)
        ),
        "held": _count(db, held.visible(select(Message.id).where(Message.status == "held"), actor)),
    }
