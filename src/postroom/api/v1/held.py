"""Held messages: list, read, reprocess, or route by hand to a new or an existing request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import Id, Limit, Offset, page
from postroom.api.schemas import Attach, OpenRequest
from postroom.services import held, requests

router = APIRouter(prefix="/held", tags=["held messages"])


@router.get("")
def list_held(
    db: Db,
    caller: CallerDep,
    reason: Annotated[str | None, Query(max_length=100)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    rows = held.listing(db, reason, limit + 1, actor=caller.actor, offset=offset)
    return page(rows, limit, offset, fetched_extra=True)


@router.get("/{message_id}")
def show_held(message_id: Id, db: Db, caller: CallerDep) -> Any:
    return held.show(db, caller.actor, message_id)


@router.post("/{message_id}/reprocess")
def reprocess_held(message_id: Id, db: Db, caller: CallerDep) -> Any:
    return held.reprocess(db, caller.actor, message_id)


@router.post("/{message_id}/open-request", status_code=201)
def open_request(message_id: Id, body: OpenRequest, db: Db, caller: CallerDep) -> Any:
    request = held.open_request(db, caller.actor, message_id, body.workflow)
    return requests.detail(db, request.id, caller.actor)


@router.post("/{message_id}/attach")
def attach_to_request(message_id: Id, body: Attach, db: Db, caller: CallerDep) -> Any:
    request = held.attach(db, caller.actor, message_id, body.request)
    return requests.detail(db, request.id, caller.actor)
