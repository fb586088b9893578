"""OAuth2 tokens of mailboxes: sealed at rest, renewed ahead of expiry, one renewal at a time.

Microsoft rotates refresh tokens: two workers renewing at once would each spend the same one
and one would be left holding a dead token. So each mailbox's renewal is serialised across
processes (a row lock on PostgreSQL, a conditional UPDATE lease on SQLite), and the new access
and refresh tokens are written in one transaction. A refused grant touches only that mailbox.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, object_session

from postroom.config import get_settings
from postroom.connectors import shared_rights
from postroom.domain.endpoints import Credentials
from postroom.domain.settings import MailboxAccess, MailboxState
from postroom.errors import NeedsReconnect, PostroomError, TokenRejected
from postroom.services import oauth_apps, reconnects
from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox, OAuthApp, utcnow
from postroom.storage.secrets import default_box

if TYPE_CHECKING:  # the OAuth2 client (httpx, authlib) loads when a token is renewed
    from postroom.connectors.oauth2 import OAuthClient, TokenSet

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # longer than any token request takes (its timeout is 30 s)
LEASE_POLL = 0.05

T = TypeVar("T")


@dataclass(frozen=True)
class Stored:
    access_token: str
    refresh_token: str | None
    expires_at: datetime
    app_only: bool
    scope: str | None = None  # what the sign-in asked for; None: noted before scopes were


def store(
    mailbox: Mailbox, tokens: TokenSet, app_only: bool = False, scope: str | None = None
) -> None:
    """Access and refresh token together, in the caller's transaction: never one without the
    other, so a rotated refresh token cannot be lost. `scope`: what the sign-in asked for,
    which each renewal asks for again (Microsoft refuses a renewal asking for more)."""
    data = json.loads(tokens.as_json()) | {"app_only": app_only}
    if scope:
        data["scope"] = scope
    mailbox.oauth_tokens = default_box().seal(
        json.dumps(data), mailbox.secret_identity("oauth_tokens")
    )
    mailbox.oauth_expires_at = tokens.expires_at


def stored(mailbox: Mailbox) -> Stored:
    if mailbox.state == MailboxState.NEEDS_RECONNECT.value:
        raise NeedsReconnect(
            f"{mailbox.address} needs a new sign-in: `postroom mailbox connect {mailbox.address}`."
        )
    if mailbox.oauth_tokens is None:
        raise NeedsReconnect(
            f"{mailbox.address} has not been signed in yet: `postroom mailbox connect "
            f"{mailbox.address} --oauth-app NAME`."
        )
    data = json.loads(
        default_box().open(mailbox.oauth_tokens, mailbox.secret_identity("oauth_tokens"))
    )
    return Stored(
        data["access_token"],
        data.get("refresh_token"),
        datetime.fromtimestamp(data["expires_at"], UTC),
        bool(data.get("app_only")),
        data.get("scope"),
    )


def _fresh(tokens: Stored, rejected: str | None) -> bool:
    if rejected is not None and tokens.access_token == rejected:
        return False
    ahead = timedelta(seconds=get_settings().oauth_refresh_ahead)
    return tokens.expires_at - ahead > utcnow()


def asked_scope(mailbox: Mailbox, app: OAuthApp) -> str:
    return oauth_apps.scopes_for_mailbox(app, mailbox)


def _client(mailbox: Mailbox, tokens: Stored) -> OAuthClient:
    app = mailbox.oauth_app
    if app is None:
        raise NeedsReconnect(f"{mailbox.address} has no OAuth app: connect it with one.")
    if tokens.app_only:
        scope = oauth_apps.APP_ONLY_SCOPE
    else:
        scope = tokens.scope or oauth_apps.scopes_for_mailbox(app, mailbox)
    from postroom.connectors.oauth2 import OAuthClient

    return OAuthClient(oauth_apps.client_config(app, scope))


def _exchange(client: OAuthClient, tokens: Stored) -> TokenSet:
    with client:
        if tokens.app_only:
            return client.client_credentials()
        if not tokens.refresh_token:
            raise NeedsReconnect("No refresh token was granted: sign in again.")
        return client.refresh(tokens.refresh_token)


def credentials(engine: Engine, mailbox_id: int, rejected: str | None = None) -> Credentials:
    """XOAUTH2 / Bearer credentials; `rejected` is an access token the provider just refused."""
    token = access_token(engine, mailbox_id, rejected)
    with unit_of_work(engine) as db:
        mailbox = db.get(Mailbox, mailbox_id)
        assert mailbox is not None
        if mailbox.access == MailboxAccess.SHARED_DELEGATE.value:
            # The shared address is the user (XOAUTH2 user=, Graph /users/{shared}); the token
            # is the delegate's.
            return Credentials(mailbox.address, token, bearer=True, delegate=mailbox.oauth_account)
        return Credentials(mailbox.oauth_account or mailbox.address, token, bearer=True)


def credentials_for(mailbox: Mailbox) -> Credentials:
    """For callers that hold a mailbox row: renewal uses transactions of its own."""
    session = object_session(mailbox)
    assert session is not None
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    return credentials(engine, mailbox.id)


def with_renewal(
    engine: Engine, mailbox_id: int, given: Credentials, attempt: Callable[[Credentials], T]
) -> T:
    """Run `attempt`; when the provider refuses the access token (401), renew it once (unless
    another worker already did) and run it again. Refused twice: the mailbox needs a person."""
    try:
        return attempt(given)
    except TokenRejected:
        if not given.bearer:
            raise
    fresh = credentials(engine, mailbox_id, rejected=given.password)
    try:
        return attempt(fresh)
    except TokenRejected as exc:
        if fresh.delegate is not None:
            # The provider just issued the token, so it is the shared mailbox that refuses it:
            # Exchange wants Full Access for XOAUTH2 as the shared address. Signing in again
            # would not help; an administrator must grant the right.
            raise shared_rights.full_access(fresh.login, fresh.delegate, "sign in to it") from exc
        with unit_of_work(engine) as db:
            mailbox = db.get(Mailbox, mailbox_id)
            assert mailbox is not None
            reconnects.mark(db, mailbox, f"a freshly renewed access token was refused: {exc}")
        raise NeedsReconnect(f"{exc} Sign in again.") from exc


def access_token(engine: Engine, mailbox_id: int, rejected: str | None = None) -> str:
    with unit_of_work(engine) as db:
        mailbox = db.get(Mailbox, mailbox_id)
        assert mailbox is not None
        tokens = stored(mailbox)
        if _fresh(tokens, rejected):
            return tokens.access_token
    if engine.dialect.name == "postgresql":
        return _renew_locked(engine, mailbox_id, rejected)
    return _renew_leased(engine, mailbox_id, rejected)


def _lock(db: Session, mailbox_id: int) -> Mailbox:
    query = (
        select(Mailbox)
        .where(Mailbox.id == mailbox_id)
        .with_for_update(of=Mailbox)
        .execution_options(populate_existing=True)
    )
    try:
        with db.begin_nested():
            return db.execute(query.with_for_update(of=Mailbox, nowait=True)).scalar_one()
    except OperationalError:
        log.info("waiting for another renewal of mailbox %s", mailbox_id)
    return db.execute(query).scalar_one()


def _renew_locked(engine: Engine, mailbox_id: int, rejected: str | None) -> str:
    """PostgreSQL: SELECT … FOR UPDATE holds the row while the token endpoint answers."""
    failure: NeedsReconnect | None = None
    with unit_of_work(engine) as db:
        mailbox = _lock(db, mailbox_id)
        tokens = stored(mailbox)
        if _fresh(tokens, rejected):
            return tokens.access_token  # another worker renewed it while we waited
        try:
            renewed = _exchange(_client(mailbox, tokens), tokens)
        except NeedsReconnect as exc:
            failure = exc
            reconnects.mark(db, mailbox, str(exc))
        else:
            store(mailbox, renewed, tokens.app_only, tokens.scope)
            return renewed.access_token
    raise failure


def _take_lease(engine: Engine, mailbox_id: int) -> None:
    waited = False
    while True:
        now = utcnow()
        with engine.begin() as connection:
            taken = connection.execute(
                update(Mailbox)
                .where(
                    Mailbox.id == mailbox_id,
                    or_(Mailbox.oauth_refresh_lease.is_(None), Mailbox.oauth_refresh_lease < now),
                )
                .values(oauth_refresh_lease=now + LEASE)
            ).rowcount
        if taken == 1:
            return
        if not waited:
            log.info("waiting for another renewal of mailbox %s", mailbox_id)
            waited = True
        time.sleep(LEASE_POLL)  # SQLite has no row locks to block on


def _renew_leased(engine: Engine, mailbox_id: int, rejected: str | None) -> str:
    """SQLite: a lease taken by a conditional UPDATE; the HTTP call runs outside any
    transaction so other writers are not held up, and the result is written at once."""
    _take_lease(engine, mailbox_id)
    try:
        with unit_of_work(engine) as db:
            mailbox = db.get(Mailbox, mailbox_id, populate_existing=True)
            assert mailbox is not None
            tokens = stored(mailbox)
            if _fresh(tokens, rejected):
                return tokens.access_token
            client = _client(mailbox, tokens)
        try:
            renewed = _exchange(client, tokens)
        except NeedsReconnect as exc:
            with unit_of_work(engine) as db:
                mailbox = db.get(Mailbox, mailbox_id)
                assert mailbox is not None
                reconnects.mark(db, mailbox, str(exc))
            raise
        with unit_of_work(engine) as db:
            mailbox = db.get(Mailbox, mailbox_id)
            assert mailbox is not None
            store(mailbox, renewed, tokens.app_only, tokens.scope)
            mailbox.oauth_refresh_lease = None
        return renewed.access_token
    finally:
        with engine.begin() as connection:
            connection.execute(
                update(Mailbox).where(Mailbox.id == mailbox_id).values(oauth_refresh_lease=None)
            )


def renew_due(engine: Engine) -> int:
    """The background job: renew every token that expires within the look-ahead. Each mailbox
    on its own; one refusal marks that mailbox and the others carry on."""
    horizon = utcnow() + timedelta(seconds=get_settings().oauth_refresh_ahead)
    with unit_of_work(engine) as db:
        due = list(
            db.scalars(
                select(Mailbox.id).where(
                    Mailbox.oauth_tokens.is_not(None),
                    Mailbox.oauth_expires_at <= horizon,
                    Mailbox.state != MailboxState.NEEDS_RECONNECT.value,
                    Mailbox.state != MailboxState.DISABLED.value,
                )
            )
        )
    renewed = 0
    for mailbox_id in due:
        try:
            access_token(engine, mailbox_id)
            renewed += 1
        except PostroomError as exc:
            log.warning("renewing the token of mailbox %s failed: %s", mailbox_id, exc)
    return renewed
