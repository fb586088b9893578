"""What API tokens and metrics tokens share: a secret shown once and stored as its hash, a
short prefix to recognise it by, a last-used time kept to the minute, and revocation. Each kind
(services/api_tokens.py, services/metrics_tokens.py) decides who may make, see and revoke its
tokens; the API's routes and the console's pages for both are made from one `TokenKind`."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.services import audit
from postroom.services.actors import Actor
from postroom.services.auth import token_hash
from postroom.storage.models import ApiToken, MetricsToken, aware, utcnow

TOUCH_EVERY = timedelta(minutes=1)  # last-used time to the minute, not a write per call
Row = TypeVar("Row", ApiToken, MetricsToken)


@dataclass(frozen=True)
class Minted:
    token: str  # for the caller, this once
    prefix: str  # what lists show, so a person can tell their tokens apart
    hash: str  # what is stored


def mint(prefix: str) -> Minted:
    token = prefix + secrets.token_urlsafe(32)
    return Minted(token, token[: len(prefix) + 6], token_hash(token))


def live(db: Session, kind: type[Row], bearer: str) -> Row | None:
    """The unrevoked token for this bearer, its use noted; None for an unknown or revoked one."""
    row = db.scalar(select(kind).where(kind.token_hash == token_hash(bearer)))
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or aware(row.last_used_at) < now - TOUCH_EVERY:
        row.last_used_at = now
    return row


def revoke(db: Session, actor: Actor, row: Row, action: str, target: str) -> Row:
    """Revoking twice is no error, and is audited once."""
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(db, actor, action, target, name=row.name)
    return row


@dataclass(frozen=True)
class TokenKind(Generic[Row]):
    """One kind of token as the API and the console manage it."""

    create: Callable[[Session, Actor, str], tuple[Row, str]]
    listing: Callable[[Session, Actor], Sequence[Row]]
    revoke: Callable[[Session, Actor, int], Row]
    present: Callable[[Sequence[Row]], list[dict[str, Any]]]  # one query however many
