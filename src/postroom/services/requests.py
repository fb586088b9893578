"""Requests and their threads, as people and scripts read them. Administrators see every
request; a user sees those of the workflows they are given, and nothing says the others exist."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from postroom.errors import InvalidInput, NotFound
from postroom.services import (
    audit,
    contacts,
    events,
    outbox_states,
    request_history,
    workflows,
)
from postroom.services.actors import OPERATOR, Actor
from postroom.storage.models import Message, OutboxItem, Request, WorkflowMember, utcnow

Q = TypeVar("Q", bound=Select[Any])


def workflow_ids_of(actor: Actor) -> Select[int]:
    return select(WorkflowMember.workflow_id).where(WorkflowMember.user_id == actor.user_id)


def _visible(query: Q, actor: Actor) -> Q:
    if actor.is_admin:
        return query
    return query.where(Request.workflow_id.in_(workflow_ids_of(actor)))


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
    counts = (
        select(Message.request_id, func.count().label("n")).group_by(Message.request_id).subquery()
    )
    query = _visible(
        select(Request, counts.c.n)
        .outerjoin(counts, counts.c.request_id == Request.id)
        .order_by(Request.id.desc()),
        actor,
    )
    if workflow:
        chosen = workflows.get(db, workflow, include_deleted=True)
        query = query.where(Request.workflow_id == chosen.id)
        if step:
            query = query.where(Request.step_id == _step(chosen.steps, step).id)
    elif step:
        raise InvalidInput("Choose a workflow to filter by one of its steps.", field="step")
    if search and search.strip():
        words = search.strip().lstrip("#")
        conditions: list[ColumnElement[bool]] = [
            Request.subject.ilike(f"%{words}%"),
            Request.requester.ilike(f"%{words}%"),
        ]
        if words.isdigit():
            conditions.append(Request.id == int(words))
        query = query.where(or_(*conditions))
    if limit:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [summary(request, count or 0) for request, count in db.execute(query)]


def _step(steps: list[Any], name: str) -> Any:
    for step in steps:
        if step.name.lower() == name.strip().lower():
            return step
    names = ", ".join(s.name for s in steps)
    raise InvalidInput(f"No step {name!r} in this workflow: choose one of {names}.", field="step")


def summary(request: Request, messages: int) -> dict[str, Any]:
    return {
        "id": request.id,
        "workflow": request.workflow.name,
        "step": request.step.name if request.step else None,
        "subject": request.subject,
        "requester": request.requester,
        "messages": messages,
        "created_at": request.created_at.isoformat(),
    }


def get(db: Session, request_id: int, actor: Actor = OPERATOR) -> Request:
    request = db.scalar(_visible(select(Request).where(Request.id == request_id), actor))
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
    return summary(request, len(thread)) | {
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
    target = _step(request.workflow.steps, step)
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
