"""Held messages: kept with their reason, visible, and reprocessable exactly once. A user sees
those of their own mailboxes and of the workflows they are given; administrators see all."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from postroom.errors import Conflict, NotFound
from postroom.services import audit, events, listings, present, request_history, requests, workflows
from postroom.services.actors import OPERATOR, Actor
from postroom.storage.db import flushed_connection
from postroom.storage.models import Mailbox, Message, Request, utcnow

PREVIEW_BYTES = 512 * 1024  # of the raw email, parsed for the preview
PREVIEW_CHARACTERS = 100_000  # of its text, shown

Q = TypeVar("Q", bound=Select[Any])  # what the query selects: whole rows, or only ids


def visible(query: Q, actor: Actor) -> Q:
    return listings.visible_messages(query, actor)


def listing(
    db: Session,
    reason: str | None = None,
    limit: int = 100,
    *,
    actor: Actor = OPERATOR,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """As services/listings.py reads them for the CLI, in this session's transaction."""
    return listings.held(flushed_connection(db), reason, limit, actor=actor, offset=offset)


def _held(db: Session, actor: Actor, message_id: int, *, lock: bool = False) -> Message:
    query = visible(select(Message).where(Message.id == message_id), actor)
    if lock and db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # two people deciding at once: one wins
    message = db.scalar(query)
    if message is None:
        raise NotFound(f"No message {message_id}: `postroom held list` shows the held ones.")
    if message.status != "held":
        raise Conflict(f"Message {message_id} is already in request #{message.request_id}.")
    return message


def _visible_message(db: Session, actor: Actor, message_id: int) -> Message:
    message = db.scalar(visible(select(Message).where(Message.id == message_id), actor))
    if message is None:
        raise NotFound(f"No message {message_id}: `postroom held list` shows the held ones.")
    return message


def show(db: Session, actor: Actor, message_id: int) -> dict[str, Any]:
    """The message with a preview of its text: a 30 MB email is read only so far, and the page
    says it was cut and offers the whole email as a download."""
    from postroom.inbound.parse import parse_body, parse_headers  # not for listing

    message = _visible_message(db, actor, message_id)
    cut = len(message.raw) > PREVIEW_BYTES
    text = parse_body(message.raw[:PREVIEW_BYTES] if cut else message.raw).text
    if len(text) > PREVIEW_CHARACTERS:
        text, cut = text[:PREVIEW_CHARACTERS], True
    # The From headers as written: the sender is only a valid address, or none.
    from_header = " / ".join(parse_headers(message.raw[:PREVIEW_BYTES]).all("from"))
    return present.held_message(message) | {
        "status": message.status,
        "text": text,
        "text_cut": cut,
        "from_header": from_header,
    }


def raw(db: Session, actor: Actor, message_id: int) -> bytes:
    """The email as received, for whoever may see it."""
    return _visible_message(db, actor, message_id).raw


def open_request(db: Session, actor: Actor, message_id: int, workflow: str) -> Request:
    """A person decides a held message is new work: a request opens in the workflow chosen,
    which must be one they work in (checked before anything is written)."""
    chosen = workflows.get_to_work(db, actor, workflow)
    message = _held(db, actor, message_id, lock=True)
    steps = chosen.steps
    request = Request(
        workflow=chosen,
        step=steps[1] if len(steps) > 1 else steps[0],  # as the pipeline opens one
        mailbox_id=message.mailbox_id,
        subject=message.subject,
        requester=message.sender,
    )
    db.add(request)
    _route(message, request)
    db.flush()
    events.message_stored(db, message, "open")
    request_history.placed(db, [(message, "open")], actor)
    audit.record(db, actor, "message.opened", f"message {message_id}", request=request.id)
    return request


def attach(db: Session, actor: Actor, message_id: int, request_id: int) -> Request:
    """A person decides a held message belongs to a request already open."""
    message = _held(db, actor, message_id, lock=True)
    request = requests.get(db, request_id, actor)
    _route(message, request)
    request.updated_at = utcnow()
    db.flush()
    events.message_stored(db, message, "thread")
    request_history.placed(db, [(message, "thread")], actor)
    audit.record(db, actor, "message.attached", f"message {message_id}", request=request.id)
    return request


def _route(message: Message, request: Request) -> None:
    message.status, message.held_reason, message.request = "routed", None, request
    message.rule_hits = [*message.rule_hits, {"rule": "person", "reason": "routed by hand"}]


def reprocess(db: Session, actor: Actor, message_id: int) -> dict[str, Any]:
    """Route a held message again with today's settings (a workflow re-activated, say)."""
    # Parsing and routing load the whole pipeline, which listing held mail has no use for.
    from postroom.inbound.parse import parse_headers
    from postroom.inbound.pipeline import Router

    message = _held(db, actor, message_id, lock=True)
    mailbox = db.get(Mailbox, message.mailbox_id) if message.mailbox_id else None
    if mailbox is None:
        raise Conflict(f"Message {message_id}'s mailbox was removed; it cannot be routed again.")
    headers = parse_headers(message.raw)
    router = Router(db, mailbox, frozenset(db.scalars(select(Mailbox.address))))
    router.prepare([headers])
    router.copies.discard((headers.message_id, headers.sha256))  # it is itself, not a copy
    router.sent[headers.sender] = 0  # the rate cap guards arrival, not an admin's decision
    decision, hits = router.decide(headers)
    request = router.apply(decision, headers)
    trail = [{"rule": h.rule, "reason": h.reason} for h in hits]
    if decision.action == "hold":
        message.held_reason = decision.reason
        message.rule_hits = [*trail, {"rule": "route", "reason": decision.detail or ""}]
    else:
        message.status, message.held_reason, message.request = "routed", None, request
        message.rule_hits = trail
    db.flush()
    if decision.action != "hold":  # still held: no news, it was held before
        events.message_stored(db, message, decision.action)
        request_history.placed(db, [(message, decision.action)], actor)
    audit.record(
        db,
        actor,
        "message.reprocessed",
        f"message {message_id}",
        outcome=decision.action,
        request=message.request_id,
    )
    return present.held_message(message) | {"status": message.status, "request": message.request_id}
