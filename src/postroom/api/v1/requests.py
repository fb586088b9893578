"""Requests: those of the workflows the caller is given (administrators: all)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import Id, Limit, Offset, page
from postroom.api.schemas import Move, Reply
from postroom.services import present, replies, requests

router = APIRouter(prefix="/requests", tags=["requests"])
Filter = Annotated[str | None, Query(max_length=200)]


@router.get("")
def list_requests(
    db: Db,
    caller: CallerDep,
    workflow: Filter = None,
    step: Filter = None,
    q: Filter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    rows = requests.listing(
        db, workflow, limit + 1, actor=caller.actor, step=step, search=q, offset=offset
    )
    return page(rows, limit, offset, fetched_extra=True)


@router.get("/{request_id}")
def show_request(request_id: Id, db: Db, caller: CallerDep) -> Any:
    return requests.detail(db, request_id, caller.actor, bodies=True)


@router.post("/{request_id}/move")
def move_request(request_id: Id, body: Move, db: Db, caller: CallerDep) -> Any:
    requests.move(db, caller.actor, request_id, body.step)
    return requests.detail(db, request_id, caller.actor)


@router.post("/{request_id}/reply", status_code=202)
def reply_to_request(
    request_id: Id,
    body: Reply,
    db: Db,
    caller: CallerDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Queued in the request's thread from `mailbox` (default: your default mailbox, else the
    workflow's system mailbox); the outbox item says when it is sent."""
    item = replies.reply(
        db,
        caller.actor,
        request_id,
        body=body.body,
        html=body.html,
        mailbox=body.mailbox,
        idempotency_key=idempotency_key,
    )
    return present.outbox_item(item)
