"""Replies to requests: from the user's own mailbox or the workflow's system mailbox, in the
request's thread, so the customer's answer threads back to the same request."""

from __future__ import annotations

import hashlib
import re
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.errors import InvalidInput, NotFound
from postroom.outbound.compose import Draft, usable_message_id
from postroom.services import idempotency, outbox, request_history, requests
from postroom.services.actors import Actor
from postroom.storage.models import Mailbox, Message, OutboxItem, Request

REFERENCES_KEPT = 20  # RFC 5322 lets clients trim References; the newest ids are the useful ones
_SYNTHETIC = "@postroom.invalid>"  # ids postroom made up for mail that carried none
_HEADERS_END = re.compile(rb"\r?\n\r?\n")  # read the headers only, however large the email


def reply(
    db: Session,
    actor: Actor,
    request_id: int,
    *,
    body: str,
    html: str | None = None,
    mailbox: str | None = None,
    idempotency_key: str | None = None,
) -> OutboxItem:
    """Queue a reply to the request's latest incoming email and add it to the request's thread.

    `mailbox` is the sending address; without it, the actor's default personal mailbox, or else
    the system mailbox the request came in on.
    """
    if not body.strip() and not (html and html.strip()):
        raise InvalidInput("The reply is empty: write a message.", field="body")
    request = requests.get(db, request_id, actor)  # only requests the actor may work
    sending = sending_mailbox(db, actor, request, mailbox)
    thread = list(
        db.scalars(select(Message).where(Message.request_id == request.id).order_by(Message.id))
    )
    answered = next((m for m in reversed(thread) if m.direction == "in"), None)
    to = _answer_address(answered) if answered is not None else request.requester
    if not to:
        raise InvalidInput(f"Request #{request.id} has no sender address to reply to.")
    ids = [i for m in thread if (i := _threading_id(m.message_id_header))]
    in_reply_to = _threading_id(answered.message_id_header) if answered is not None else None
    draft = Draft(
        sender=sending.address,
        sender_name=sending.display_name,
        to=(to,),
        subject=_re(request.subject),
        text=body,
        html=html,
        in_reply_to=in_reply_to,
        references=tuple(ids[-REFERENCES_KEPT:]),
        request_id=request.id,
    )
    item = outbox.enqueue(
        db,
        actor,
        draft,
        idempotency_key=idempotency_key,
        request_id=request.id,
        sending=sending,
        kind="reply",
        content=idempotency.digest("reply", request.id, body, html, mailbox),
    )
    if record_sent(db, item, sending, request):
        request_history.outgoing(db, item, request, actor.label, "replied")
    return item


def record_sent(db: Session, item: OutboxItem, sending: Mailbox, request: Request) -> bool:
    """The outgoing email joins the request's thread; its Message-ID is what the customer's
    answer names in In-Reply-To, so the inbound router finds the request by it."""
    known = select(Message.id).where(Message.message_id_header == item.message_id)
    if db.scalar(known) is not None:
        return False  # a repeated submission (same idempotency key) is one message
    db.add(
        Message(
            mailbox_id=sending.id,
            request_id=request.id,
            message_id_header=item.message_id,
            sha256=hashlib.sha256(item.raw).hexdigest(),
            direction="out",
            sender=sending.address,
            subject=item.subject,
            size=len(item.raw),
            raw=item.raw,
        )
    )
    request.updated_at = item.created_at
    return True


def sending_mailbox(db: Session, actor: Actor, request: Request, address: str | None) -> Mailbox:
    """A mailbox the actor may reply from: one of their own, or a system mailbox of the
    request's workflow. Another user's mailbox is not found, as everywhere."""
    own, system = _own(db, actor), _system(db, request)
    if address is not None:
        wanted = address.strip().lower()
        found = [m for m in own + system if m.address == wanted]
        if not found:
            raise NotFound(
                f"No mailbox {address} that you may reply from: use one of your own mailboxes "
                "or a system mailbox of the request's workflow.",
            )
        return _can_send(found[0])
    preferred = [m for m in own if m.is_default and _sends(m)]
    preferred += [m for m in system if m.id == request.mailbox_id and _sends(m)]
    preferred += [m for m in system if _sends(m)]
    if not preferred:
        raise InvalidInput(
            f"No mailbox can send replies for request #{request.id}: give your default mailbox "
            f"or a system mailbox of workflow {request.workflow.name} an outgoing server.",
            field="mailbox",
        )
    return preferred[0]


def _own(db: Session, actor: Actor) -> list[Mailbox]:
    if actor.user_id is None:
        return []
    return list(db.scalars(select(Mailbox).where(Mailbox.owner_id == actor.user_id)))


def _system(db: Session, request: Request) -> list[Mailbox]:
    query = select(Mailbox).where(
        Mailbox.owner_id.is_(None), Mailbox.workflow_id == request.workflow_id
    )
    return list(db.scalars(query.order_by(Mailbox.id)))


def _sends(mailbox: Mailbox) -> bool:
    return mailbox.outgoing_server is not None and mailbox.send_enabled


def _can_send(mailbox: Mailbox) -> Mailbox:
    if not _sends(mailbox):
        raise InvalidInput(
            f"{mailbox.address} cannot send: it has no outgoing server.", field="mailbox"
        )
    return mailbox


def _threading_id(value: str | None) -> str | None:
    """Ids postroom made up, and odd ones a reply cannot carry, are left out of its headers."""
    if value is None or value.endswith(_SYNTHETIC):
        return None
    return usable_message_id(value)


def _answer_address(message: Message) -> str:
    """Reply-To when the sender asked for it (RFC 5322 3.6.2), else From; decoded, so an
    international address (RFC 6532 UTF-8 or an encoded display name) reads as written."""
    end = _HEADERS_END.search(message.raw)
    raw = message.raw[: end.end()] if end else message.raw
    headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
    for name in ("Reply-To", "From"):
        try:
            values = [str(v) for v in headers.get_all(name, [])]
        except (ValueError, IndexError, TypeError):  # a header the parser cannot read
            continue
        for _, address in getaddresses(values):
            if "@" in address:
                return address
    return message.sender


def _re(subject: str) -> str:
    bare = subject.strip()
    return bare if bare.lower().startswith("re:") else f"Re: {bare}".strip()
