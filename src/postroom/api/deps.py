"""Who is asking, and one transaction an HTTP request. A browser session and an API token lead
to the same user and the same Actor, so the services apply one set of rules to both."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from postroom.errors import NotSignedIn, PasswordChangeRequired, PermissionDenied
from postroom.services import api_tokens, auth, users
from postroom.services.actors import Actor
from postroom.storage.db import unit_of_work
from postroom.storage.models import User, WebSession
from postroom.storage.secrets import derived_key

SESSION_COOKIE = "postroom_session"
SIGN_IN_COOKIE = "postroom_sign_in"  # the pre-session CSRF token of the sign-in forms
SIGN_IN_TOKEN_LIFETIME = 12 * 3600
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CHANGE_PAGE = "/password"  # where a user whose password was reset picks their own
OPEN_WHILE_CHANGE_DUE = frozenset({CHANGE_PAGE, "/sign-out"})


def database() -> Iterator[Session]:
    with unit_of_work() as db:
        yield db


# scope="function": the transaction ends (commits) when the route returns, before the answer is
# sent; FastAPI's default would commit after the client already has its 2xx.
Db = Annotated[Session, Depends(database, scope="function")]


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(derived_key("session-cookie"), salt="postroom-session")


def cookie_for(session_id: str) -> str:
    return _signer().dumps(session_id)


def session_id_in(cookie: str | None) -> str | None:
    if not cookie:
        return None
    try:
        value = _signer().loads(cookie, max_age=int(auth.SESSION_LIFETIME.total_seconds()))
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def _sign_in_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(derived_key("sign-in-form"), salt="postroom-sign-in")


def _sign_in_token_in(cookie: str | None) -> str | None:
    if not cookie:
        return None
    try:
        value = _sign_in_signer().loads(cookie, max_age=SIGN_IN_TOKEN_LIFETIME)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def sign_in_token(request: Request) -> tuple[str, str | None]:
    """The sign-in form's token, and the cookie to set when the browser has none yet. Before
    there is a session the token is a double submit: a signed cookie and the same value in the
    form, which another site can neither read nor make."""
    current = _sign_in_token_in(request.cookies.get(SIGN_IN_COOKIE))
    if current is not None:
        return current, None
    fresh = secrets.token_urlsafe(32)
    return fresh, _sign_in_signer().dumps(fresh)


def sign_in_token_ok(request: Request, submitted: str) -> bool:
    expected = _sign_in_token_in(request.cookies.get(SIGN_IN_COOKIE))
    return bool(expected and submitted) and hmac.compare_digest(expected or "", submitted)


@dataclass(frozen=True)
class Caller:
    user: User
    session: WebSession | None  # None when an API token brought the request

    @property
    def actor(self) -> Actor:
        return users.actor_for(self.user)


def current_session(request: Request, db: Session) -> WebSession | None:
    session_id = session_id_in(request.cookies.get(SESSION_COOKIE))
    return auth.session_for(db, session_id) if session_id else None


async def _csrf_token(request: Request) -> str | None:
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    return token


def _identify(authorization: str, cookie: str | None) -> Caller:
    """Who the credentials name, in a transaction of its own that ends at once: a route's own
    transaction (and its database connection) starts only when it needs one."""
    with unit_of_work() as db:
        if authorization.lower().startswith("bearer "):
            user = api_tokens.user_for(db, authorization[7:].strip())
            if user is None:
                raise NotSignedIn(
                    "The API token is unknown or revoked: make a new one under My profile."
                )
            return Caller(user=user, session=None)
        session_id = session_id_in(cookie)
        session = auth.session_for(db, session_id) if session_id else None
        if session is None:
            raise NotSignedIn(
                "Sign in first, or send an API token as 'Authorization: Bearer TOKEN'."
            )
        return Caller(user=session.user, session=session)


def identify(request: Request) -> Caller:
    return _identify(request.headers.get("authorization", ""), request.cookies.get(SESSION_COOKIE))


async def caller(request: Request) -> Caller:
    """The database work runs on a worker thread, never on the event loop; the form (with its
    CSRF token) is read only once the caller is known."""
    found = await run_in_threadpool(identify, request)
    if (
        found.session is not None
        and request.method not in SAFE_METHODS
        and not auth.csrf_ok(found.session, await _csrf_token(request))
    ):
        raise PermissionDenied(
            "The form's security token is missing or stale: reload the page and try again."
        )
    if (
        found.session is not None
        and found.user.must_change_password
        and request.url.path not in OPEN_WHILE_CHANGE_DUE
    ):
        raise PasswordChangeRequired(
            f"Choose a new password first, at {CHANGE_PAGE}: an administrator reset yours."
        )
    return found


CallerDep = Annotated[Caller, Depends(caller)]
