"""Idempotency keys: each actor's own, and bound to what was asked for the first time.

Another user's equal key is another email (it must neither reveal nor swallow it); the same
actor's key again for different content is refused, so a client bug never drops an email.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.errors import Conflict
from postroom.outbound.compose import Draft
from postroom.services.actors import Actor
from postroom.storage.models import OutboxItem


def scope(actor: Actor) -> str:
    """A signed-in user's keys are theirs; the CLI operator and postroom itself each have one."""
    return f"user:{actor.user_id}" if actor.user_id is not None else f"actor:{actor.label}"


def digest(*parts: Any) -> str:
    """A stable fingerprint of what the caller asked for (drafts, ids, texts)."""
    plain = [asdict(p) if isinstance(p, Draft) else p for p in parts]
    data = json.dumps(plain, sort_keys=True, default=_bytes_digest, ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def earlier(db: Session, scope: str, key: str, content: str) -> OutboxItem | None:
    """The item this actor already queued with this key, or None; a different email is refused."""
    query = select(OutboxItem).where(
        OutboxItem.idempotency_scope == scope, OutboxItem.idempotency_key == key
    )
    item = db.scalar(query)
    if item is not None and item.idempotency_digest != content:
        raise Conflict(
            f"Idempotency key {key!r} was already used for a different email (outbox item "
            f"{item.id}): use a new key for a new email, or send exactly the same one again."
        )
    return item


def _bytes_digest(value: object) -> str:
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    raise TypeError(f"cannot fingerprint {type(value).__name__}")
