"""Tokens that read /metrics and nothing else: what a Prometheus server is given instead of an
administrator's API token, so a leaked scrape config opens no mailbox."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.domain import validate
from postroom.errors import NotFound, NotSignedIn, PermissionDenied
from postroom.services import api_tokens, audit
from postroom.services.actors import Actor
from postroom.services.auth import token_hash
from postroom.storage.models import MetricsToken, aware, utcnow

PREFIX = "prm_"
TOUCH_EVERY = timedelta(minutes=1)


def create(db: Session, actor: Actor, name: str) -> tuple[MetricsToken, str]:
    """The plain token is returned this once and never again."""
    actor.require_admin("make metrics tokens")
    token = PREFIX + secrets.token_urlsafe(32)
    row = MetricsToken(
        name=validate.name(name, "token name"),
        prefix=token[: len(PREFIX) + 6],
        token_hash=token_hash(token),
        created_by=actor.label,
    )
    db.add(row)
    db.flush()
    audit.record(db, actor, "metrics-token.created", f"metrics token {row.id}", name=row.name)
    return row, token


def listing(db: Session, actor: Actor) -> list[MetricsToken]:
    actor.require_admin("see metrics tokens")
    return list(db.scalars(select(MetricsToken).order_by(MetricsToken.id)))


def revoke(db: Session, actor: Actor, token_id: int) -> MetricsToken:
    actor.require_admin("revoke metrics tokens")
    row = db.get(MetricsToken, token_id)
    if row is None:
        raise NotFound(f"No metrics token {token_id}: `postroom token list` shows them.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(db, actor, "metrics-token.revoked", f"metrics token {row.id}", name=row.name)
    return row


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
        row = db.scalar(select(MetricsToken).where(MetricsToken.token_hash == token_hash(bearer)))
        if row is None or row.revoked_at is not None:
            raise NotSignedIn("The metrics token is unknown or revoked: make a new one.")
        now = utcnow()
        if row.last_used_at is None or aware(row.last_used_at) < now - TOUCH_EVERY:
            row.last_used_at = now
        return
    user = api_tokens.user_for(db, bearer)
    if user is None:
        raise NotSignedIn("The API token is unknown or revoked: make a new one under My profile.")
    if not user.is_admin:
        raise PermissionDenied(
            "Only administrators' API tokens read metrics: use a metrics token instead."
        )


def present(row: MetricsToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked": row.revoked_at is not None,
    }
