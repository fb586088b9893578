"""How long held mail is kept, and the purge that forgets it. Only held mail that belongs to
no request is ever deleted; mail a person must act on is kept until they do, unless an
administrator chose a retention for its reason."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, delete, func, select
from sqlalchemy.orm import Session

from postroom.domain.held import HELD_REASONS, MAX_RETENTION_DAYS, default_retention, kind
from postroom.errors import InvalidInput
from postroom.services import audit
from postroom.services.actors import Actor
from postroom.storage.db import unit_of_work
from postroom.storage.models import Message, RetentionSetting, utcnow

log = logging.getLogger(__name__)

BATCH = 500  # messages deleted a transaction: short locks, and progress survives a crash


@dataclass(frozen=True)
class Retention:
    reason: str
    kind: str  # "machine mail" or "needs a person"
    days: int | None  # None: kept until a person acts on it
    default_days: int | None
    updated_by: str | None = None  # None: the default was never changed
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Purge:
    dry_run: bool
    counts: dict[str, int]  # reason -> messages purged (or, on a dry run, that would be)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def listing(db: Session) -> list[Retention]:
    chosen = {row.reason: row for row in db.scalars(select(RetentionSetting))}
    views = []
    for reason in HELD_REASONS:
        row = chosen.get(reason)
        views.append(
            Retention(
                reason=reason,
                kind=kind(reason),
                days=row.days if row else default_retention(reason),
                default_days=default_retention(reason),
                updated_by=row.updated_by if row else None,
                updated_at=row.updated_at if row else None,
            )
        )
    return views


def _known(reason: str) -> str:
    reason = reason.strip().lower()
    if reason not in HELD_REASONS:
        raise InvalidInput(
            f"There is no held reason {reason!r}: choose one of {', '.join(HELD_REASONS)}.",
            field="held reason",
        )
    return reason


def set_days(db: Session, actor: Actor, reason: str, days: int | None) -> Retention:
    """`days=None` keeps held mail of that reason until a person acts on it."""
    actor.require_admin("change how long held mail is kept")
    reason = _known(reason)
    if days is not None and not 1 <= days <= MAX_RETENTION_DAYS:
        raise InvalidInput(
            f"Keep held mail between 1 and {MAX_RETENTION_DAYS} days, or turn the retention "
            "off to keep it until a person acts on it.",
            field="days",
        )
    row = db.scalar(select(RetentionSetting).where(RetentionSetting.reason == reason))
    before = row.days if row else default_retention(reason)
    if row is None:
        row = RetentionSetting(reason=reason)
        db.add(row)
    row.days, row.updated_by, row.updated_at = days, actor.label, utcnow()
    db.flush()
    audit.record(db, actor, "retention.set", reason, days=days, previous=before)
    return next(v for v in listing(db) if v.reason == reason)


def _expired(reason: str, cutoff: datetime) -> list[ColumnElement[bool]]:
    return [
        Message.status == "held",
        Message.held_reason == reason,
        Message.request_id.is_(None),  # mail that belongs to a request is never purged
        Message.received_at < cutoff,
    ]


def _delete(engine: Engine, where: list[ColumnElement[bool]], batch: int) -> int:
    deleted = 0
    while True:
        with unit_of_work(engine) as db:
            ids = list(
                db.scalars(select(Message.id).where(*where).order_by(Message.id).limit(batch))
            )
            if not ids:
                return deleted
            # The conditions again: a message routed meanwhile (it is locked while a person
            # routes it) no longer matches and stays.
            gone = db.connection().execute(delete(Message).where(Message.id.in_(ids), *where))
            deleted += gone.rowcount
        if len(ids) < batch:
            return deleted


def purge(engine: Engine, actor: Actor, *, dry_run: bool = False, batch: int = BATCH) -> Purge:
    """Its own transactions, one a batch, so a large purge never holds a long lock."""
    actor.require_admin("purge held mail")
    with unit_of_work(engine) as db:
        kept = {v.reason: v.days for v in listing(db) if v.days is not None}
    now = utcnow()
    counts: dict[str, int] = {}
    for reason, days in kept.items():
        where = _expired(reason, now - timedelta(days=days))
        if dry_run:
            with unit_of_work(engine) as db:
                found = db.scalar(select(func.count()).select_from(Message).where(*where)) or 0
        else:
            found = _delete(engine, where, batch)
        if found:
            counts[reason] = found
    result = Purge(dry_run=dry_run, counts=counts)
    if result.total and not dry_run:
        with unit_of_work(engine) as db:
            audit.record(
                db, actor, "held.purged", "held messages", purged=counts, total=result.total
            )
        log.info("purged %d held messages past their retention: %s", result.total, counts)
    return result
