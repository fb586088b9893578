"""Requests and their threads, as people and scripts read them. Administrators see every
request; a user sees those of the workflows they are given, and nothing says the others exist."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.errors import NotFound
from postroom.services import (
    audit,
    contacts,
    events,
    listings,
    outbox_states,
    present,
    request_history,
)
from postroom.services.actors import OPERATOR, Actor
from postroom.storage.db import flushed_connection
from postroom.storage.models import Message, OutboxItem, Request, utcnow


def listing(
    db: Session,
    workflow: str | None = None,
    limit: int = 50,
    *,
    actor: Actor = OPERATOR,
    step: str | None = None,
    search: str | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """As services/listings.py reads them for the CLI, in this session's transaction."""
    return listings.requests(
        flushed_connection(db),
        workflow,
        limit,
        actor=actor,
        step=step,
        search=search,
        offset=offset,
    )


def get(db: Session, request_id: int, actor: Actor = OPERATOR) -> Request:
    query = listings.visible_requests(select(Request).where(Request.id == request_id), actor)
    request = db.scalar(query)
    if request is None:
        raise NotFound(f"No request #{request_id}: `postroom request list` shows them.")
    return request


def detail(
    db: Session, request_id: int, actor: Actor = OPERATOR, *, bodies: bool = False
) -> dict[str, Any]:
    """With bodies, each message's text (cut when huge) and attachments too, parsed from the
    raw bytes, which stay the truth."""
    from postroom.services import message_preview  # the parser: not for listing

    request = get(db, request_id, actor)
    thread = list(
        db.scalars(select(Message).where(Message.request_id == request.id).order_by(Message.id))
    )
    sent = outbox_states.by_message_id(
        db, [m.message_id_header for m in thread if m.direction == "out" and m.message_id_header]
    )
    return present.request(request) | {
        "requester_contact": contacts.of_requester(db, request),
        "steps": [s.name for s in request.workflow.steps],
        "thread": [
            {
                "id": m.id,
                "direction": m.direction,
                "sender": m.sender,
                "subject": m.subject,
                "message_id": m.message_id_header,
                "received_at": m.received_at.isoformat(),
                "size": m.size,
                "rules": m.rule_hits,
            }
            | _delivery(m, sent)
            | (message_preview.preview(m.raw) if bodies else {})
            for m in thread
        ],
    }


def _delivery(message: Message, sent: dict[str, OutboxItem]) -> dict[str, Any]:
    """An outgoing email's outbox state; a received one is simply received."""
    if message.direction != "out":
        return {"status": "received"}
    item = sent.get(message.message_id_header or "")
    if item is None:
        return {"status": "sent", "delivery": None}
    found = outbox_states.delivery(item)
    return {"status": found["state"], "delivery": found}


def delivery_of(db: Session, request_id: int, message_id: int, actor: Actor) -> dict[str, Any]:
    """One thread entry's status, for the console to refresh it while it changes."""
    request = get(db, request_id, actor)
    message = db.get(Message, message_id)
    if message is None or message.request_id != request.id:
        raise NotFound(f"No message {message_id} in request #{request.id}.")
    sent = outbox_states.by_message_id(db, [message.message_id_header or ""])
    return {"id": message.id, "direction": message.direction} | _delivery(message, sent)


def history(db: Session, request_id: int, actor: Actor = OPERATOR) -> list[dict[str, Any]]:
    """Oldest first: opened, emails received, moves, replies and acknowledgements."""
    return request_history.timeline(db, get(db, request_id, actor))


def move(db: Session, actor: Actor, request_id: int, step: str) -> Request:
    request = get(db, request_id, actor)
    target = listings.step_named(request.workflow.steps, step)
    if request.step_id != target.id:
        before = request.step.name if request.step else None
        request.step = target
        request.updated_at = utcnow()
        audit.record(
            db, actor, "request.moved", f"request #{request.id}", step=target.name, before=before
        )
        events.emit(db, "request.moved", events.request_data(request) | {"previous_step": before})
        request_history.record(db, request, "moved", actor.label, step=target.name, before=before)
    return request
