"""API tokens: a user's bearer credentials for the REST API, shown once and stored as a hash."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.domain import validate
from postroom.errors import InvalidInput, NotFound
from postroom.services import audit
from postroom.services.actors import Actor
from postroom.services.auth import token_hash
from postroom.storage.models import ApiToken, User, aware, utcnow

PREFIX = "pr_"
TOUCH_EVERY = timedelta(minutes=1)  # last-used time to the minute, not a write per call


def _owner(actor: Actor) -> int:
    if actor.user_id is None:
        raise InvalidInput("API tokens belong to users: sign in as one to make a token.")
    return actor.user_id


def create(db: Session, actor: Actor, name: str) -> tuple[ApiToken, str]:
    """The plain token is returned this once and never again."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=_owner(actor),
        name=validate.name(name, "token name"),
        prefix=token[: len(PREFIX) + 6],
        token_hash=token_hash(token),
    )
    db.add(row)
    db.flush()
    audit.record(db, actor, "api-token.created", f"token {row.id}", name=row.name)
    return row, token


def listing(db: Session, actor: Actor) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == _owner(actor)).order_by(ApiToken.id)
    return list(db.scalars(query))


def revoke(db: Session, actor: Actor, token_id: int) -> ApiToken:
    row = db.get(ApiToken, token_id)
    if row is None or row.user_id != _owner(actor):
        raise NotFound(f"No API token {token_id} among yours.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(db, actor, "api-token.revoked", f"token {row.id}", name=row.name)
    return row


def user_for(db: Session, token: str) -> User | None:
    if not token.startswith(PREFIX):
        return None
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None or row.user.disabled_at is not None:
        return None  # a disabled user's tokens are refused, and work again once enabled
    now = utcnow()
    if row.last_used_at is None or aware(row.last_used_at) < now - TOUCH_EVERY:
        row.last_used_at = now
    return row.user
