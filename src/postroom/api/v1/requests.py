"""Requests: those of the workflows the caller is given (administrators: all)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import Response

from postroom.api.deps import CallerDep, Db
from postroom.api.downloads import download
from postroom.api.pages import Id, Limit, Offset, page
from postroom.api.schemas import Move, Reply
from postroom.services import present, replies, request_files, requests

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


@router.get("/{request_id}/history")
def request_history(request_id: Id, db: Db, caller: CallerDep) -> Any:
    """Oldest first: opened, emails received, moves, replies, acknowledgements; who and when."""
    return requests.history(db, request_id, caller.actor)


@router.get("/{request_id}/messages/{message_id}/raw")
def download_raw(request_id: Id, message_id: Id, db: Db, caller: CallerDep) -> Response:
    """The email as stored, as a .eml download (message/rfc822), streamed."""
    return download(request_files.raw(db, caller.actor, request_id, message_id))


@router.get("/{request_id}/messages/{message_id}/attachments")
def list_attachments(request_id: Id, message_id: Id, db: Db, caller: CallerDep) -> Any:
    return request_files.attachments(db, caller.actor, request_id, message_id)


@router.get("/{request_id}/messages/{message_id}/attachments/{index}")
def download_attachment(
    request_id: Id,
    message_id: Id,
    index: Annotated[int, Path(ge=0, le=10_000)],
    db: Db,
    caller: CallerDep,
) -> Response:
    """One attachment's content, always as application/octet-stream (saved, never shown)."""
    return download(request_files.attachment(db, caller.actor, request_id, message_id, index))
