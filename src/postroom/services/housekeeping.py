"""Rows that outlived their use: expired console sessions, OAuth sign-ins that were abandoned
or ran out of time, and failed sign-ins older than the window that limits guessing. None of
them decides anything any more; left alone they only grow the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.orm import Session

from postroom.services.actors import Actor
from postroom.services.auth import FAILURE_WINDOW
from postroom.storage.models import LoginFailure, OAuthFlow, WebSession, utcnow


@dataclass(frozen=True)
class Sweep:
    sessions: int
    oauth_flows: int
    login_failures: int


def sweep(db: Session, actor: Actor) -> Sweep:
    """A used OAuth flow is deleted when it is used, so expiry finds the rest."""
    actor.require_admin("clean up expired sign-ins")
    now = utcnow()
    connection = db.connection()
    sessions = connection.execute(delete(WebSession).where(WebSession.expires_at < now))
    flows = connection.execute(delete(OAuthFlow).where(OAuthFlow.expires_at < now))
    failures = connection.execute(
        delete(LoginFailure).where(LoginFailure.at < now - FAILURE_WINDOW)
    )
    return Sweep(sessions.rowcount, flows.rowcount, failures.rowcount)
