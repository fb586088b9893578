"""The outbox: enqueue (idempotent with the Idempotency-Key header), list, show, retry, cancel."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import Id, Limit, Offset, page
from postroom.api.schemas import EmailIn
from postroom.outbound.compose import Draft
from postroom.services import outbox, present

router = APIRouter(prefix="/outbox", tags=["outbox"])


@router.post("", status_code=202)
def enqueue_email(
    body: EmailIn,
    db: Db,
    caller: CallerDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Queued, not yet sent: the outbox item says what happened. The same Idempotency-Key again
    answers with the first item and sends nothing more."""
    draft = Draft(
        sender=body.sender,
        to=tuple(body.to),
        cc=tuple(body.cc),
        bcc=tuple(body.bcc),
        subject=body.subject,
        text=body.text,
        html=body.html,
    )
    item = outbox.enqueue(
        db,
        caller.actor,
        draft,
        connection=body.connection,
        idempotency_key=idempotency_key,
        request_id=body.request,
    )
    return present.outbox_item(item)


Narrow = Annotated[str | None, Query(max_length=320)]


@router.get("")
def list_outbox(
    db: Db,
    caller: CallerDep,
    state: Annotated[str | None, Query(max_length=20)] = None,
    mailbox: Narrow = None,
    connection: Narrow = None,
    recipient: Narrow = None,
    since: Annotated[date | None, Query(description="queued on or after (UTC day)")] = None,
    until: Annotated[date | None, Query(description="queued on or before (UTC day)")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    narrowed = outbox.Filter(state, mailbox, connection, recipient, since, until)
    rows = outbox.listing(db, None, limit + 1, actor=caller.actor, offset=offset, narrowed=narrowed)
    return page(rows, limit, offset, fetched_extra=True)


@router.get("/{item_id}")
def show_outbox_item(item_id: Id, db: Db, caller: CallerDep) -> Any:
    return present.outbox_item(outbox.get(db, item_id, caller.actor))


@router.post("/{item_id}/retry")
def retry_outbox_item(item_id: Id, db: Db, caller: CallerDep) -> Any:
    return present.outbox_item(outbox.retry(db, caller.actor, item_id))


@router.post("/{item_id}/cancel")
def cancel_outbox_item(item_id: Id, db: Db, caller: CallerDep) -> Any:
    """Only a queued or deferred item: one a sender has taken answers 409."""
    return present.outbox_item(outbox.cancel(db, caller.actor, item_id))
