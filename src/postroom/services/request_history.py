"""A request's history: opened, moved, replied, acknowledged, who and when. Each entry is
written in the transaction of the change it tells about (never scraped from the audit log
afterwards), so a rolled-back change leaves no entry and a committed one always has its own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from postroom.services import outbox_states
from postroom.services.actors import Actor
from postroom.storage.models import Message, OutboxItem, Request, RequestEvent, utcnow

KINDS = {
    "opened": "opened",
    "received": "email received",
    "moved": "moved",
    "replied": "replied",
    "acknowledged": "acknowledgement",
    "attached": "email added by hand",
}
MAIL = "email"  # who did it, when it was the sender's email that did


def record(db: Session, request: Request, kind: str, actor: str, **details: Any) -> None:
    db.add(RequestEvent(request=request, actor=actor[:320], kind=kind, details=details))


def placed(db: Session, placed: list[tuple[Message, str]], actor: Actor | None = None) -> None:
    """Inbound messages that opened a request or joined one, in one INSERT for a fetch batch.
    Without an actor the sender's email did it; with one (routed by hand), that person did."""
    now = utcnow()
    rows = []
    for message, action in placed:
        if action == "hold" or message.request_id is None:
            continue
        if actor is not None:
            kind = "opened" if action == "open" else "attached"
            who = actor.label
        else:
            kind = "opened" if action == "open" else "received"
            who = (message.sender or MAIL)[:320]
        details = {"message": message.id, "sender": message.sender, "subject": message.subject}
        # Opened when the request was made: before its acknowledgement, queued on the way.
        at = message.request.created_at if kind == "opened" and message.request else now
        rows.append(
            {"request_id": message.request_id, "at": at, "actor": who, "kind": kind}
            | {"details": details}
        )
    if rows:
        db.execute(insert(RequestEvent), rows)


def outgoing(db: Session, item: OutboxItem, request: Request, actor: str, kind: str) -> None:
    """A reply or an acknowledgement queued for the request; its delivery is read live."""
    record(db, request, kind, actor, outbox_item=item.id, sender=item.sender, subject=item.subject)


def timeline(db: Session, request: Request) -> list[dict[str, Any]]:
    """Oldest first. The caller has found the request through `requests.get`, which checks
    that the actor may see it."""
    rows = list(
        db.scalars(
            select(RequestEvent)
            .where(RequestEvent.request_id == request.id)
            .order_by(RequestEvent.at, RequestEvent.id)
        )
    )
    states = _states(db, [i for r in rows if (i := _item(r))])
    return [
        {
            "id": row.id,
            "at": row.at.isoformat(),
            "kind": row.kind,
            "label": KINDS.get(row.kind, row.kind),
            "actor": row.actor,
            "details": row.details,
        }
        | ({"delivery": states.get(item)} if (item := _item(row)) else {})
        for row in rows
    ]


def _item(row: RequestEvent) -> int | None:
    value = row.details.get("outbox_item")
    return int(value) if isinstance(value, int) else None


def _states(db: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    found = db.scalars(select(OutboxItem).where(OutboxItem.id.in_(ids)))
    return {item.id: outbox_states.delivery(item)["state"] for item in found}
