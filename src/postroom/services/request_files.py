"""A request's emails as files: the raw email (.eml) and each attachment. Whoever may see the
request may download them; that is checked once, before anything is read. The raw email is
read from the database in chunks, each in a short transaction of its own, so a 20 MB download
neither sits whole in memory nor holds a database connection while the client reads."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, LargeBinary, func, select
from sqlalchemy.orm import Session

from postroom.errors import NotFound
from postroom.inbound.parse import attachment_at
from postroom.services import message_preview, requests
from postroom.services.actors import Actor
from postroom.storage.db import default_engine, unit_of_work
from postroom.storage.models import Message

CHUNK = 256 * 1024
RAW_TYPE = "message/rfc822"
CONTENT_TYPE = "application/octet-stream"  # an attachment is someone else's content: never run
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f"\\/]')


@dataclass(frozen=True)
class Download:
    filename: str
    content_type: str
    size: int
    chunks: Callable[[], Iterator[bytes]]


def _message_id(db: Session, actor: Actor, request_id: int, message_id: int) -> int:
    request = requests.get(db, request_id, actor)  # NotFound for a request the actor may not see
    found = db.scalar(
        select(Message.id).where(Message.id == message_id, Message.request_id == request.id)
    )
    if found is None:
        raise NotFound(f"No message {message_id} in request #{request.id}.")
    return found


def raw(
    db: Session, actor: Actor, request_id: int, message_id: int, engine: Engine | None = None
) -> Download:
    """The email exactly as stored (received, or as we sent it)."""
    found = _message_id(db, actor, request_id, message_id)
    size = db.scalar(select(func.length(Message.raw)).where(Message.id == found)) or 0
    bound = engine or default_engine()
    return Download(
        filename=f"request-{request_id}-message-{found}.eml",
        content_type=RAW_TYPE,
        size=size,
        chunks=lambda: _raw_chunks(bound, found, size),
    )


def _raw_chunks(engine: Engine, message_id: int, size: int) -> Iterator[bytes]:
    for start in range(0, size, CHUNK):
        with unit_of_work(engine) as db:  # ends before the chunk is handed on
            piece = db.scalar(
                select(func.substr(Message.raw, start + 1, CHUNK, type_=LargeBinary)).where(
                    Message.id == message_id
                )
            )
        if piece is None:
            return
        yield bytes(piece)


def attachments(
    db: Session, actor: Actor, request_id: int, message_id: int
) -> list[dict[str, Any]]:
    found = _message_id(db, actor, request_id, message_id)
    message = db.get(Message, found)
    assert message is not None
    return message_preview.listed(message.raw)


def attachment(db: Session, actor: Actor, request_id: int, message_id: int, index: int) -> Download:
    found = _message_id(db, actor, request_id, message_id)
    message = db.get(Message, found)
    assert message is not None
    part = attachment_at(message.raw, index)
    if part is None:
        raise NotFound(f"No attachment {index} in message {message_id} of request #{request_id}.")
    described, content = part
    name = _UNSAFE_NAME.sub("_", described.filename).strip(". ") or f"attachment-{index}"
    return Download(
        filename=name,
        content_type=CONTENT_TYPE,
        size=len(content),
        chunks=lambda: (content[i : i + CHUNK] for i in range(0, len(content), CHUNK)),
    )
