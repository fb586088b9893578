"""OAuth2 sign-in for mailboxes: the web flow (authorization code with PKCE, the state kept in
the database so any process can complete it), the device flow for the CLI, and app-only
access for Microsoft system mailboxes. The account that signs in must be the mailbox's own
(or, for a new mailbox, gives its address). Reconnecting keeps the mailbox and its cursor.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from postroom.config import get_settings
from postroom.connectors.oauth2 import ClientConfig, OAuthClient, TokenSet
from postroom.domain import validate
from postroom.domain.settings import (
    DEFAULT_HOSTS,
    MailboxAccess,
    MailboxState,
    OAuthProvider,
    Protocol,
)
from postroom.errors import AuthFailed, InvalidInput, NotFound
from postroom.services import audit, mailboxes, oauth_apps, servers, tokens
from postroom.services.actors import SYSTEM, Actor
from postroom.storage.models import Mailbox, OAuthApp, OAuthFlow, Server, utcnow
from postroom.storage.secrets import default_box

CLOUD = {OAuthProvider.MICROSOFT: Protocol.GRAPH, OAuthProvider.GOOGLE: Protocol.GMAIL}
USED = "This sign-in is unknown or was already used: start it again."


@dataclass(frozen=True)
class Target:
    """Which mailbox a sign-in is for: an address (or None: the signed-in account's), and
    whose it is."""

    address: str | None
    system: bool = False
    owner: str | None = None


def _existing(db: Session, actor: Actor, target: Target) -> Mailbox | None:
    if target.address is None:
        return None
    try:
        return mailboxes.get_for(db, actor, target.address, target.owner)
    except NotFound:
        return None


def _scope(db: Session, actor: Actor, app: OAuthApp, target: Target) -> str:
    """What the sign-in asks for: the mailbox's mail, and its contacts and calendar when it
    syncs them (a reconnect after switching sync on grants them)."""
    mailbox = _existing(db, actor, target)
    if mailbox is not None:
        return oauth_apps.scopes_for_mailbox(app, mailbox)
    cloud = CLOUD.get(OAuthProvider(app.provider))
    return oauth_apps.scopes_for(app, {cloud} if cloud else set())


def _extra(app: OAuthApp, address: str | None) -> dict[str, str]:
    extra = {"login_hint": address} if address else {}
    if app.provider == OAuthProvider.GOOGLE.value:
        return extra | {"access_type": "offline", "prompt": "consent"}  # else no refresh token
    return extra | {"prompt": "select_account"}


def start_web_flow(
    db: Session,
    actor: Actor,
    app_name: str,
    mailbox_address: str | None,
    redirect_uri: str,
    *,
    system: bool = False,
) -> str:
    """The provider's sign-in URL to send the browser to; the callback takes it back with
    `take_web_flow`, `redeem_code` and `finish_web_flow`."""
    app = oauth_apps.get(db, app_name)
    if system:
        actor.require_admin("connect system mailboxes")
    target = Target(validate.address(mailbox_address) if mailbox_address else None, system)
    db.execute(delete(OAuthFlow).where(OAuthFlow.expires_at < utcnow()))  # abandoned sign-ins
    verifier = secrets.token_urlsafe(64)
    flow = OAuthFlow(
        state=secrets.token_urlsafe(32),
        oauth_app=app,
        code_verifier=b"",
        actor_label=actor.label,
        actor_user_id=actor.user_id,
        actor_is_admin=actor.is_admin,
        address=target.address,
        system=system,
        redirect_uri=redirect_uri,
        expires_at=utcnow() + timedelta(seconds=get_settings().oauth_flow_lifetime),
    )
    db.add(flow)
    db.flush()
    flow.code_verifier = default_box().seal(verifier, flow.secret_identity("code_verifier"))
    scope = _scope(db, actor, app, target)
    with OAuthClient(oauth_apps.client_config(app, scope), redirect_uri) as client:
        return client.authorization_url(flow.state, verifier, _extra(app, target.address))


@dataclass(frozen=True)
class PendingSignIn:
    """A web sign-in whose state is used up: what redeeming its code needs, kept outside any
    transaction while the provider answers (no database connection waits on the network)."""

    actor: Actor
    target: Target
    app_name: str
    client: ClientConfig = field(repr=False)
    redirect_uri: str
    verifier: str = field(repr=False)


def take_web_flow(db: Session, state: str) -> PendingSignIn:
    """The provider sent the browser back: check the state and use it up, so that it works
    once even when the same callback arrives twice at the same time."""
    flow = db.scalar(select(OAuthFlow).where(OAuthFlow.state == state))
    if flow is None:
        raise InvalidInput(USED)
    expires = flow.expires_at
    if (expires if expires.tzinfo else expires.replace(tzinfo=utcnow().tzinfo)) < utcnow():
        raise InvalidInput("This sign-in took too long and expired: start it again.")
    actor = Actor(flow.actor_label, flow.actor_user_id, flow.actor_is_admin)
    target = Target(flow.address, flow.system)
    app = flow.oauth_app
    scope = _scope(db, actor, app, target)
    pending = PendingSignIn(
        actor=actor,
        target=target,
        app_name=app.name,
        client=oauth_apps.client_config(app, scope),
        redirect_uri=flow.redirect_uri,
        verifier=default_box().open(flow.code_verifier, flow.secret_identity("code_verifier")),
    )
    taken = db.connection().execute(delete(OAuthFlow).where(OAuthFlow.id == flow.id))
    if taken.rowcount != 1:  # a second arrival of the same callback took it first
        raise InvalidInput(USED)
    return pending


def redeem_code(pending: PendingSignIn, code: str) -> TokenSet:
    """The network half of the sign-in: no database here, so call it between transactions."""
    with OAuthClient(pending.client, pending.redirect_uri) as client:
        return client.exchange_code(code, pending.verifier)


def finish_web_flow(db: Session, pending: PendingSignIn, granted: TokenSet) -> Mailbox:
    """Keep the tokens the provider granted: add or reconnect the mailbox."""
    return attach(db, pending.actor, pending.app_name, pending.target, granted)


def device_client(db: Session, actor: Actor, app_name: str, target: Target) -> ClientConfig:
    """What the CLI needs to run the device flow outside any transaction."""
    app = oauth_apps.get(db, app_name)
    return oauth_apps.client_config(app, _scope(db, actor, app, target))


def _cloud_server(db: Session, actor: Actor, provider: OAuthProvider) -> Server:
    """The provider's mail API server: the first one configured, or the public one."""
    protocol = CLOUD.get(provider)
    if protocol is None:
        raise InvalidInput(
            "A generic OAuth app cannot add a mailbox by itself: add the mailbox with its "
            "servers first (`postroom mailbox add … --oauth-app NAME`), then connect it."
        )
    found = db.scalar(select(Server).where(Server.protocol == protocol.value).order_by(Server.id))
    if found is not None:
        return found
    spec = servers.ServerSpec(name=DEFAULT_HOSTS[protocol], protocol=protocol.value)
    return servers.add(db, SYSTEM, spec)  # the public API: any user may need it


def add_shared(
    db: Session, actor: Actor, app_name: str, address: str, send_mode: str, display_name: str = ""
) -> Mailbox:
    """A person's own entry for a Microsoft 365 shared mailbox they have rights on, through
    Graph; they then sign in as themselves (`start_web_flow` with its address)."""
    app = oauth_apps.get(db, app_name)
    server = _cloud_server(db, actor, OAuthProvider(app.provider))
    spec = mailboxes.MailboxSpec(
        address=address,
        incoming=server.name,
        outgoing=server.name,
        oauth_app=app.name,
        display_name=display_name,
        access=MailboxAccess.SHARED_DELEGATE.value,
        send_mode=send_mode or None,
    )
    return mailboxes.add(db, actor, spec)


def attach(db: Session, actor: Actor, app_name: str, target: Target, granted: TokenSet) -> Mailbox:
    app = oauth_apps.get(db, app_name)
    account = granted.account
    if account is None:
        raise AuthFailed(
            "The provider did not say who signed in: give the OAuth app the openid and email "
            "scopes."
        )
    address = target.address or account
    mailbox = _existing(db, actor, Target(address, target.system, target.owner))
    delegated = mailbox is not None and mailbox.access == MailboxAccess.SHARED_DELEGATE.value
    if account != address and not delegated:
        raise AuthFailed(
            f"You signed in as {account}, but the mailbox is {address}: sign in with the "
            f"account of {address} (or, for a shared mailbox you have rights on, add it as "
            "one: --shared delegate)."
        )
    if mailbox is None:
        server = _cloud_server(db, actor, OAuthProvider(app.provider))
        spec = mailboxes.MailboxSpec(
            address=address,
            incoming=server.name,
            outgoing=server.name,
            system=target.system,
            owner=target.owner,
            oauth_app=app.name,
        )
        mailbox = mailboxes.add(db, actor, spec)
    _connected(db, actor, mailbox, app, granted, account)
    return mailbox


def _connected(
    db: Session,
    actor: Actor,
    mailbox: Mailbox,
    app: OAuthApp,
    granted: TokenSet,
    account: str,
    app_only: bool = False,
) -> None:
    """The stored cursor is kept, so a reconnected mailbox resumes where it stopped."""
    mailbox.oauth_app = app
    mailbox.oauth_account = account
    asked = None if app_only else tokens.asked_scope(mailbox, app)
    tokens.store(mailbox, granted, app_only, asked)
    mailbox.oauth_refresh_lease = None
    mailbox.state, mailbox.last_error, mailbox.failures = MailboxState.NEW.value, None, 0
    mailbox.next_poll_at = None
    mailbox.credentials_changed_at = utcnow()
    audit.record(db, actor, "mailbox.oauth-connected", mailbox.address, account=account)


def _app_only(db: Session, actor: Actor, app_name: str, address: str) -> tuple[OAuthApp, Mailbox]:
    actor.require_admin("connect system mailboxes with app-only access")
    app = oauth_apps.get(db, app_name)
    if app.provider != OAuthProvider.MICROSOFT.value or app.client_secret is None:
        raise InvalidInput("App-only access needs a Microsoft OAuth app with a client secret.")
    mailbox = mailboxes.get_for(db, actor, address)
    if mailbox.owner_id is not None:
        raise InvalidInput("App-only access is for system mailboxes; personal ones sign in.")
    return app, mailbox


def app_only_client(db: Session, actor: Actor, app_name: str, address: str) -> ClientConfig:
    """Client credentials: a Microsoft system mailbox reached with the app's own permission,
    no person's sign-in to expire. The caller asks the provider outside any transaction, then
    calls `connect_app_only`."""
    app, _ = _app_only(db, actor, app_name, address)
    return oauth_apps.client_config(app, oauth_apps.APP_ONLY_SCOPE)


def connect_app_only(
    db: Session, actor: Actor, app_name: str, address: str, granted: TokenSet
) -> Mailbox:
    """Keep the app's token; checked again, since the mailbox may have changed meanwhile."""
    app, mailbox = _app_only(db, actor, app_name, address)
    _connected(db, actor, mailbox, app, granted, mailbox.address, app_only=True)
    return mailbox
