"""Tokens that read /metrics and nothing else: what a Prometheus server is given instead of an
administrator's API token, so a leaked scrape config opens no mailbox."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.domain import validate
from postroom.errors import NotFound, NotSignedIn, PermissionDenied
from postroom.services import api_tokens, audit, bearer_tokens, present
from postroom.services.actors import Actor
from postroom.storage.models import MetricsToken

PREFIX = "prm_"


def create(db: Session, actor: Actor, name: str) -> tuple[MetricsToken, str]:
    """The plain token is returned this once and never again."""
    actor.require_admin("make metrics tokens")
    minted = bearer_tokens.mint(PREFIX)
    row = MetricsToken(
        name=validate.name(name, "token name"),
        prefix=minted.prefix,
        token_hash=minted.hash,
        created_by=actor.label,
    )
    db.add(row)
    db.flush()
    audit.record(db, actor, "metrics-token.created", f"metrics token {row.id}", name=row.name)
    return row, minted.token


def listing(db: Session, actor: Actor) -> list[MetricsToken]:
    actor.require_admin("see metrics tokens")
    return list(db.scalars(select(MetricsToken).order_by(MetricsToken.id)))


def revoke(db: Session, actor: Actor, token_id: int) -> MetricsToken:
    actor.require_admin("revoke metrics tokens")
    row = db.get(MetricsToken, token_id)
    if row is None:
        raise NotFound(f"No metrics token {token_id}: `postroom token list` shows them.")
    return bearer_tokens.revoke(db, actor, row, "metrics-token.revoked", f"metrics token {row.id}")


def authorize(db: Session, bearer: str | None, public: bool) -> None:
    """A metrics token, or an administrator's API token; anonymous only when the operator
    said so (POSTROOM_METRICS_PUBLIC). Raises otherwise."""
    if bearer is None:
        if public:
            return
        raise NotSignedIn(
            "Metrics need a token: 'Authorization: Bearer TOKEN' with a metrics token "
            "(`postroom token add NAME --metrics`) or an administrator's API token."
        )
    if bearer.startswith(PREFIX):
        if bearer_tokens.live(db, MetricsToken, bearer) is None:
            raise NotSignedIn("The metrics token is unknown or revoked: make a new one.")
        return
    user = api_tokens.user_for(db, bearer)
    if user is None:
        raise NotSignedIn("The API token is unknown or revoked: make a new one under My profile.")
    if not user.is_admin:
        raise PermissionDenied(
            "Only administrators' API tokens read metrics: use a metrics token instead."
        )


KIND = bearer_tokens.TokenKind(create, listing, revoke, present.metrics_tokens)
