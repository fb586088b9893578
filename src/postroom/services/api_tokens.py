"""API tokens: a user's bearer credentials for the REST API, shown once and stored as a hash."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.domain import validate
from postroom.errors import InvalidInput, NotFound
from postroom.services import audit, bearer_tokens, present
from postroom.services.actors import Actor
from postroom.storage.models import ApiToken, User

PREFIX = "pr_"


def _owner(actor: Actor) -> int:
    if actor.user_id is None:
        raise InvalidInput("API tokens belong to users: sign in as one to make a token.")
    return actor.user_id


def create(db: Session, actor: Actor, name: str) -> tuple[ApiToken, str]:
    """The plain token is returned this once and never again."""
    minted = bearer_tokens.mint(PREFIX)
    row = ApiToken(
        user_id=_owner(actor),
        name=validate.name(name, "token name"),
        prefix=minted.prefix,
        token_hash=minted.hash,
    )
    db.add(row)
    db.flush()
    audit.record(db, actor, "api-token.created", f"token {row.id}", name=row.name)
    return row, minted.token


def listing(db: Session, actor: Actor) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == _owner(actor)).order_by(ApiToken.id)
    return list(db.scalars(query))


def revoke(db: Session, actor: Actor, token_id: int) -> ApiToken:
    row = db.get(ApiToken, token_id)
    if row is None or row.user_id != _owner(actor):
        raise NotFound(f"No API token {token_id} among yours.")
    return bearer_tokens.revoke(db, actor, row, "api-token.revoked", f"token {row.id}")


def user_for(db: Session, token: str) -> User | None:
    if not token.startswith(PREFIX):
        return None
    row = bearer_tokens.live(db, ApiToken, token)
    if row is None or row.user.disabled_at is not None:
        return None  # a disabled user's tokens are refused, and work again once enabled
    return row.user


KIND = bearer_tokens.TokenKind(create, listing, revoke, present.api_tokens)
