"""How long held mail is kept, by reason; administrators change it and may purge at once."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from postroom.api.deps import CallerDep, Db
from postroom.api.schemas import RetentionIn
from postroom.services import present, retention
from postroom.storage.db import default_engine

router = APIRouter(prefix="/retention", tags=["held messages"])
Reason = Annotated[str, Path(max_length=50, description="a held reason, e.g. auto-reply")]


@router.get("")
def list_retention(db: Db, caller: CallerDep) -> Any:
    """Every held reason: its days (null: kept until a person acts) and its default."""
    return {"items": [present.retention(v) for v in retention.listing(db)]}


@router.put("/{reason}")
def set_retention(reason: Reason, body: RetentionIn, db: Db, caller: CallerDep) -> Any:
    return present.retention(retention.set_days(db, caller.actor, reason, body.days))


@router.post("/purge")
def purge_now(
    caller: CallerDep, dry_run: Annotated[bool, Query(description="count only")] = False
) -> Any:
    """Delete held mail past its retention now, instead of at the next hourly round."""
    return present.purge(retention.purge(default_engine(), caller.actor, dry_run=dry_run))
