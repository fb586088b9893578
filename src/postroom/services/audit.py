"""The audit log: every change says who made it, when, and (for removals) why."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.services.actors import Actor
from postroom.storage.models import AuditEntry


def record(
    db: Session, actor: Actor, action: str, target: str, reason: str | None = None, **details: Any
) -> None:
    db.add(
        AuditEntry(actor=actor.label, action=action, target=target, reason=reason, details=details)
    )


def entries(db: Session, actor: Actor, limit: int = 100, *, offset: int = 0) -> list[AuditEntry]:
    actor.require_admin("read the audit log")
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    if limit:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return list(db.scalars(query))
