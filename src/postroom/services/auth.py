"""Sign-in for the console: sessions kept in the database, a CSRF token each, and a limit on
guessing passwords that holds across every worker process because it lives in the database."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from postroom.errors import NotSignedIn, RateLimited
from postroom.services import users
from postroom.storage.db import unit_of_work
from postroom.storage.models import LoginFailure, User, WebSession, aware, utcnow

SESSION_LIFETIME = timedelta(hours=12)
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5


@dataclass(frozen=True)
class SignedIn:
    session_id: str  # goes to the browser in a signed cookie; only its hash is stored
    csrf_token: str
    user_id: int
    must_change_password: bool = False  # an administrator reset it: the console asks first


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _failure_key(email: str, client: str) -> str:
    return f"{email.strip().lower()}|{client}"


def sign_in(engine: Engine, email: str, password: str, client: str) -> SignedIn:
    """Each attempt is counted (committed) before its password is checked, then counts every
    attempt committed so far, its own included: the n-th to commit sees at least n, so of any
    number at once at most MAX_FAILURES are checked. A success clears the count."""
    key = _failure_key(email, client)
    with unit_of_work(engine) as db:
        db.add(LoginFailure(key=key))
    with unit_of_work(engine) as db:
        since = utcnow() - FAILURE_WINDOW
        counted = db.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.key == key, LoginFailure.at >= since)
        )
        if (counted or 0) > MAX_FAILURES:
            raise RateLimited(
                f"Too many failed sign-ins for {email.strip()} from your address: wait "
                f"{int(FAILURE_WINDOW.total_seconds() // 60)} minutes, then try again."
            )
        user = db.scalar(select(User).where(User.email == email.strip().lower()))
        if user is not None and users.verify_password(user, password):
            db.execute(delete(LoginFailure).where(LoginFailure.key == key))
            if user.disabled_at is not None:  # told only to whoever knows the password
                raise NotSignedIn(
                    f"The account {user.email} is disabled: ask an administrator to enable it."
                )
            return _open_session(db, user)
    users.burn_time(password)  # an unknown address takes as long as a wrong password
    raise NotSignedIn("The email address or the password is wrong.")


def _open_session(db: Session, user: User) -> SignedIn:
    now = utcnow()
    db.execute(delete(WebSession).where(WebSession.user_id == user.id, WebSession.expires_at < now))
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    db.add(
        WebSession(
            token_hash=token_hash(session_id),
            user_id=user.id,
            csrf_token=csrf,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    db.flush()
    return SignedIn(
        session_id=session_id,
        csrf_token=csrf,
        user_id=user.id,
        must_change_password=user.must_change_password,
    )


def session_for(db: Session, session_id: str) -> WebSession | None:
    row = db.scalar(select(WebSession).where(WebSession.token_hash == token_hash(session_id)))
    if row is None or aware(row.expires_at) <= utcnow() or row.user.disabled_at is not None:
        return None
    return row


def csrf_ok(session: WebSession, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(session.csrf_token, token)


def sign_out(db: Session, session_id: str) -> None:
    db.execute(delete(WebSession).where(WebSession.token_hash == token_hash(session_id)))
