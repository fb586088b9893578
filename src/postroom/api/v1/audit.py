"""The audit log and mailbox health at a glance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import Limit, Offset, page
from postroom.services import audit, listings, present
from postroom.storage.db import flushed_connection

router = APIRouter(tags=["audit and health"])


@router.get("/audit")
def audit_log(db: Db, caller: CallerDep, limit: Limit = 50, offset: Offset = 0) -> Any:
    rows = audit.entries(db, caller.actor, limit + 1, offset=offset)
    return page([present.audit_entry(e) for e in rows], limit, offset, fetched_extra=True)


@router.get("/health")
def mailbox_health(db: Db, caller: CallerDep) -> Any:
    """Each mailbox the caller manages: state, last success, last error."""
    fields = (
        "address",
        "owner",
        "kind",
        "state",
        "last_success_at",
        "last_checked_at",
        "last_error",
        "workflow",
        "workflow_status",
    )
    rows = listings.mailboxes(flushed_connection(db), caller.actor)
    return {"database": "ok", "mailboxes": [{k: r[k] for k in fields} for r in rows]}
