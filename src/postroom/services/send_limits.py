"""Each sending mailbox's use of its server's limits, shared by every worker.

A claim asks `grant` which of the emails it took may go now: it locks the mailbox's counters
(SELECT … FOR UPDATE on PostgreSQL; SQLite's claim transaction already holds the write lock),
counts what it grants and sends back the rest as "deferred" with the time the limit lets them
go, in the claim's own transaction. One query a claim when no limit applies, so the bulk path
does not pay for it. A "slow down" answer from the provider (`throttled`) pauses the mailbox
(Retry-After, or a minute) and halves its rate for a while.

Counting happens at claim: an email that then fails for another reason has used its place,
which errs on the side the provider wants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from postroom.outbound.limits import Rate
from postroom.storage.models import Mailbox, OutboxItem, SendLimit, Server, aware, utcnow

DAY = timedelta(days=1)
DEFAULT_PAUSE = timedelta(minutes=1)  # a throttling answer without Retry-After
TIGHT_FOR = timedelta(minutes=15)  # how long a throttled mailbox sends at half its rate
CAUTIOUS = Rate(10, 60)  # the rate of a throttled mailbox whose server sets none


@dataclass(frozen=True)
class Wanted:
    """One claimed email, as the limiter sees it."""

    id: int
    mailbox_id: int | None
    recipients: int
    deadline_at: datetime


@dataclass
class _Counters:
    rate: Rate | None
    per_day: int | None
    row: dict[str, Any]


def grant(connection: Connection, wanted: Sequence[Wanted], now: datetime) -> set[int]:
    """The ids that must wait; they are already put back as "deferred" with their time."""
    by_mailbox: dict[int, list[Wanted]] = {}
    for item in wanted:
        if item.mailbox_id is not None:
            by_mailbox.setdefault(item.mailbox_id, []).append(item)
    limited = _limited(connection, sorted(by_mailbox), now)
    if not limited:
        return set()
    _ensure_rows(connection, list(limited))
    rows = connection.execute(_LOCK, {"ids": list(limited)}).mappings()
    counters = {row["mailbox_id"]: dict(row) for row in rows}
    waits: list[dict[str, Any]] = []
    used: list[dict[str, Any]] = []
    for mailbox_id, (rate, per_day) in limited.items():
        state = _Counters(rate, per_day, counters[mailbox_id])
        paused, why = _open_spans(state, now)
        for item in by_mailbox[mailbox_id]:
            until, why = (paused, why) if paused is not None else _take(state, item.recipients)
            if until is not None:
                waits.append(_wait(item, until, why, now))
        used.append({f"v_{k}": state.row[k] for k in _COUNTERS} | {"mid": mailbox_id})
    connection.execute(_COUNT, used)
    if waits:
        connection.execute(_DEFER, waits)
    return {w["iid"] for w in waits}


@dataclass(frozen=True)
class Headroom:
    """What a sending mailbox may still send now (for metrics and the doctor)."""

    mailbox_id: int
    rate: Rate | None
    emails_left: int | None  # in the current span of the rate; None: no rate
    recipients_left: int | None  # in the current 24 hours; None: no daily limit
    paused_until: datetime | None  # the provider asked to slow down until then


def headroom(connection: Connection, now: datetime | None = None) -> list[Headroom]:
    """Each mailbox whose outgoing server sets a limit, with what is left of it."""
    now = now or utcnow()
    rows = connection.execute(
        select(
            Mailbox.id,
            Server.send_rate,
            Server.send_rate_seconds,
            Server.recipients_per_day,
            SendLimit.window_start,
            SendLimit.window_count,
            SendLimit.day_start,
            SendLimit.day_recipients,
            SendLimit.paused_until,
        )
        .join(Server, Server.id == Mailbox.outgoing_server_id)
        .outerjoin(SendLimit, SendLimit.mailbox_id == Mailbox.id)
        .where((Server.send_rate.is_not(None)) | (Server.recipients_per_day.is_not(None)))
        .order_by(Mailbox.id)
    )
    found = []
    for mailbox_id, count, seconds, per_day, w_start, w_count, d_start, d_used, paused in rows:
        rate = Rate(count, seconds or 60) if count else None
        emails = None
        if rate is not None:
            current = w_start is not None and aware(w_start) + timedelta(seconds=rate.seconds) > now
            emails = max(0, rate.count - (w_count or 0)) if current else rate.count
        recipients = None
        if per_day is not None:
            current = d_start is not None and aware(d_start) + DAY > now
            recipients = max(0, per_day - (d_used or 0)) if current else per_day
        pause = aware(paused) if paused is not None and aware(paused) > now else None
        found.append(Headroom(mailbox_id, rate, emails, recipients, pause))
    return found


def throttled(engine: Engine, mailbox_id: int, answer: str, retry_after: float | None) -> datetime:
    """The provider said "slow down": pause this mailbox, tighten its rate; returns until when."""
    now = utcnow()
    pause = timedelta(seconds=retry_after) if retry_after else DEFAULT_PAUSE
    until = now + max(pause, timedelta(seconds=1))
    with engine.begin() as connection:
        _ensure_rows(connection, [mailbox_id])
        connection.execute(
            update(SendLimit)
            .where(SendLimit.mailbox_id == mailbox_id)
            .values(paused_until=until, tight_until=now + TIGHT_FOR, last_throttle=answer[:500])
        )
    return until


def wait_values(
    item_id: int, until: datetime, why: str, deadline: datetime, now: datetime
) -> dict[str, Any]:
    """The row's columns for an email that waits for the limit: the wait moves its deadline
    on by as long, so waiting never makes it fail."""
    return {
        "iid": item_id,
        "state": "deferred",
        "next_attempt_at": until,
        "wait_reason": why,
        "deadline_at": aware(deadline) + max(until - now, timedelta(0)),
    }


def _wait(item: Wanted, until: datetime, why: str, now: datetime) -> dict[str, Any]:
    values = wait_values(item.id, until, why, item.deadline_at, now)
    return {f"v_{k}" if k != "iid" else k: v for k, v in values.items()}


def _limited(
    connection: Connection, mailbox_ids: list[int], now: datetime
) -> dict[int, tuple[Rate | None, int | None]]:
    """The mailboxes with a limit or a throttle in force: their rate and daily recipients."""
    if not mailbox_ids:
        return {}
    rows = connection.execute(_LIMITS, {"ids": mailbox_ids})
    limited: dict[int, tuple[Rate | None, int | None]] = {}
    for mailbox_id, count, seconds, per_day, paused, tight in rows:
        rate = Rate(count, seconds or 60) if count else None
        tightened = tight is not None and aware(tight) > now
        if tightened:
            rate = Rate(max(1, rate.count // 2), rate.seconds) if rate else CAUTIOUS
        if rate or per_day or tightened or (paused is not None and aware(paused) > now):
            limited[mailbox_id] = (rate, per_day)
    return limited


def _open_spans(state: _Counters, now: datetime) -> tuple[datetime | None, str]:
    """Start a new span where the last one ended; when paused, until when and why."""
    row = state.row
    paused = row["paused_until"]
    if paused is not None and aware(paused) > now:
        return aware(paused), f"the provider asked to slow down: {row['last_throttle'] or ''}"
    if state.rate is not None:
        span = timedelta(seconds=state.rate.seconds)
        if row["window_start"] is None or aware(row["window_start"]) + span <= now:
            row["window_start"], row["window_count"] = now, 0
    day_over = row["day_start"] is None or aware(row["day_start"]) + DAY <= now
    if state.per_day is not None and day_over:
        row["day_start"], row["day_recipients"] = now, 0
    return None, ""


def _take(state: _Counters, recipients: int) -> tuple[datetime | None, str]:
    """Count one email if the limits allow it now; else when they will, and which one.
    Integers only: a claim asks this for hundreds of emails."""
    row = state.row
    if state.rate is not None and row["window_count"] >= state.rate.count:
        return aware(row["window_start"]) + timedelta(seconds=state.rate.seconds), str(state.rate)
    if state.per_day is not None:
        # An email with more recipients than a whole day allows goes alone, first in a day.
        if row["day_recipients"] and row["day_recipients"] + recipients > state.per_day:
            return aware(row["day_start"]) + DAY, f"{state.per_day} recipients a day"
        row["day_recipients"] += recipients
    if state.rate is not None:
        row["window_count"] += 1
    return None, ""


def _ensure_rows(connection: Connection, mailbox_ids: Sequence[int]) -> None:
    statement = _ENSURE_PG if connection.dialect.name == "postgresql" else _ENSURE_SQLITE
    connection.execute(statement, [{"mid": m} for m in mailbox_ids])


# Built once: a claim runs these, and building a statement costs more than running it.
def _ensure(dialect: Any) -> Any:
    return (
        dialect.insert(SendLimit)
        .values(mailbox_id=bindparam("mid"), window_count=0, day_recipients=0)
        .on_conflict_do_nothing(index_elements=["mailbox_id"])
    )


_ENSURE_PG, _ENSURE_SQLITE = _ensure(postgresql), _ensure(sqlite)
_LIMITS = (
    select(
        Mailbox.id,
        Server.send_rate,
        Server.send_rate_seconds,
        Server.recipients_per_day,
        SendLimit.paused_until,
        SendLimit.tight_until,
    )
    .join(Server, Server.id == Mailbox.outgoing_server_id)
    .outerjoin(SendLimit, SendLimit.mailbox_id == Mailbox.id)
    .where(Mailbox.id.in_(bindparam("ids", expanding=True)))
)
_LOCK = (
    select(SendLimit.__table__)
    .where(SendLimit.mailbox_id.in_(bindparam("ids", expanding=True)))
    .order_by(SendLimit.mailbox_id)
    .with_for_update()
)
_COUNTERS = ("window_start", "window_count", "day_start", "day_recipients")
_COUNT = (
    update(SendLimit)
    .where(SendLimit.mailbox_id == bindparam("mid"))
    .values(**{c: bindparam(f"v_{c}") for c in _COUNTERS})
)


_DEFER = (
    update(OutboxItem)
    .where(OutboxItem.id == bindparam("iid"))
    .values(
        state=bindparam("v_state"),
        next_attempt_at=bindparam("v_next_attempt_at"),
        wait_reason=bindparam("v_wait_reason"),
        deadline_at=bindparam("v_deadline_at"),
        lease_owner=None,
        lease_until=None,
    )
)
