"""Requests and their threads, as people and scripts read them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postroom.errors import NotFound
from postroom.services import workflows
from postroom.storage.models import Message, Request


def listing(db: Session, workflow: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    counts = (
        select(Message.request_id, func.count().label("n")).group_by(Message.request_id).subquery()
    )
    query = (
        select(Request, counts.c.n)
        .outerjoin(counts, counts.c.request_id == Request.id)
        .order_by(Request.id.desc())
    )
    if workflow is not None:
        query = query.where(
            Request.workflow_id == workflows.get(db, workflow, include_deleted=True).id
        )
    if limit:
        query = query.limit(limit)
    return [summary(request, count or 0) for request, count in db.execute(query)]


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


def get(db: Session, request_id: int) -> Request:
    request = db.get(Request, request_id)
    if request is None:
        raise NotFound(f"No request #{request_id}: `postroom request list` shows them.")
    return request


def detail(db: Session, request_id: int) -> dict[str, Any]:
    request = get(db, request_id)
    thread = list(
        db.scalars(select(Message).where(Message.request_id == request.id).order_by(Message.id))
    )
    return summary(request, len(thread)) | {
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
            for m in thread
        ]
    }
