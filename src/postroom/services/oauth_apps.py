"""OAuth apps: registered OAuth2 clients, stored now and used by the OAuth2 sign-in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.config import get_settings
from postroom.domain import validate
from postroom.domain.settings import AfterImportKind, MailboxAccess, OAuthProvider, Protocol
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.services import audit, in_use
from postroom.services.actors import Actor
from postroom.storage.models import Mailbox, OAuthApp
from postroom.storage.secrets import default_box
from postroom.sync import scopes as sync_scopes

if TYPE_CHECKING:  # the OAuth2 client (httpx, authlib) is loaded when a sign-in needs it
    from postroom.connectors.oauth2 import ClientConfig, ProviderUrls

DEFAULT_SCOPES = {
    OAuthProvider.MICROSOFT: "offline_access https://outlook.office.com/IMAP.AccessAsUser.All "
    "https://outlook.office.com/SMTP.Send",
    OAuthProvider.GOOGLE: "https://mail.google.com/",
}
GRAPH_SCOPES = (
    "offline_access https://graph.microsoft.com/Mail.ReadWrite "
    "https://graph.microsoft.com/Mail.Send"
)
APP_ONLY_SCOPE = "https://graph.microsoft.com/.default"
GRAPH = "https://graph.microsoft.com/"

SIGN_IN_SCOPES = {  # what makes the provider name the signed-in account in an id_token
    OAuthProvider.MICROSOFT: "openid email profile",
    OAuthProvider.GOOGLE: "openid email",
    OAuthProvider.GENERIC: "openid email",
}
PROVIDER_OF = {Protocol.GRAPH: OAuthProvider.MICROSOFT, Protocol.GMAIL: OAuthProvider.GOOGLE}


@dataclass
class OAuthAppSpec:
    name: str
    provider: str
    client_id: str
    client_secret: str | None = None
    tenant: str | None = None
    authorize_url: str | None = None
    token_url: str | None = None
    scopes: str | None = None


def _url(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise InvalidInput(f"The {field} {value!r} is not an http(s) URL.", field=field)
    return value.strip()


def _apply(db: Session, app: OAuthApp, spec: OAuthAppSpec) -> None:
    """Check a spec and write it to the row; the client secret only when one is given, so an
    edit that leaves it blank keeps the stored one (it is write-only and never shown)."""
    provider = validate.choice(OAuthProvider, spec.provider, "provider")
    client_id = spec.client_id.strip()
    if not client_id:
        raise InvalidInput("Give the application (client) ID with --client-id.", field="client_id")
    name = validate.name(spec.name, "OAuth app name")
    authorize_url = _url(spec.authorize_url, "authorize URL")
    token_url = _url(spec.token_url, "token URL")
    if provider is OAuthProvider.GENERIC and not (authorize_url and token_url):
        raise InvalidInput("A generic OAuth app needs --authorize-url and --token-url.")
    taken = select(OAuthApp.id).where(OAuthApp.name == name)
    if app.id is not None:
        taken = taken.where(OAuthApp.id != app.id)
    if db.scalar(taken) is not None:
        raise Conflict(f"An OAuth app named {name!r} already exists: choose another name.")
    app.name = name
    app.provider = provider.value
    app.client_id = client_id
    app.tenant = (spec.tenant or "").strip() or (
        "common" if provider is OAuthProvider.MICROSOFT else None
    )
    app.authorize_url = authorize_url
    app.token_url = token_url
    app.scopes = (spec.scopes or DEFAULT_SCOPES.get(provider, "")).strip()
    if app.id is None:
        db.add(app)
    db.flush()
    if spec.client_secret:
        app.client_secret = default_box().seal(
            spec.client_secret, app.secret_identity("client_secret")
        )


def add(db: Session, actor: Actor, spec: OAuthAppSpec) -> OAuthApp:
    actor.require_admin("add OAuth apps")
    app = OAuthApp()
    _apply(db, app, spec)
    audit.record(db, actor, "oauth-app.added", app.name, provider=app.provider)
    return app


def update(db: Session, actor: Actor, name: str, spec: OAuthAppSpec) -> OAuthApp:
    """Change an app; a blank client secret keeps the stored one."""
    actor.require_admin("change OAuth apps")
    app = get(db, name)
    _apply(db, app, spec)
    audit.record(
        db,
        actor,
        "oauth-app.changed",
        app.name,
        was=name if name != app.name else None,
        secret_replaced=bool(spec.client_secret),
    )
    return app


def users_of(db: Session, app: OAuthApp) -> list[Mailbox]:
    query = select(Mailbox).where(Mailbox.oauth_app_id == app.id).order_by(Mailbox.address)
    return list(db.scalars(query))


def remove(db: Session, actor: Actor, name: str) -> None:
    """Refused while a mailbox signs in with the app: it would lose its way to a token."""
    actor.require_admin("remove OAuth apps")
    app = get(db, name)
    in_use.refuse_removal(
        f"OAuth app {app.name!r}",
        users_of(db, app),
        "Remove those mailboxes or give them another app first.",
    )
    audit.record(db, actor, "oauth-app.removed", app.name)
    db.delete(app)
    db.flush()


def get(db: Session, name: str) -> OAuthApp:
    app = db.scalar(select(OAuthApp).where(OAuthApp.name == name.strip()))
    if app is None:
        raise NotFound(f"No OAuth app named {name!r}: `postroom oauth-app list` shows them.")
    return app


def listing(db: Session) -> list[OAuthApp]:
    return list(db.scalars(select(OAuthApp).order_by(OAuthApp.name)))


def provider_urls(app: OAuthApp) -> ProviderUrls:
    """The app's own URLs win; otherwise the provider's, from settings (tests use loopback)."""
    from postroom.connectors.oauth2 import ProviderUrls

    settings = get_settings()
    provider = OAuthProvider(app.provider)
    if provider is OAuthProvider.MICROSOFT:
        base = f"{settings.microsoft_login_url.rstrip('/')}/{app.tenant or 'common'}/oauth2/v2.0"
        return ProviderUrls(
            app.authorize_url or f"{base}/authorize",
            app.token_url or f"{base}/token",
            f"{base}/devicecode",
        )
    if provider is OAuthProvider.GOOGLE:
        oauth2 = settings.google_oauth2_url.rstrip("/")
        return ProviderUrls(
            app.authorize_url or f"{settings.google_accounts_url.rstrip('/')}/o/oauth2/auth",
            app.token_url or f"{oauth2}/token",
            f"{oauth2}/device/code",
        )
    assert app.authorize_url and app.token_url, "checked when the app was added"
    return ProviderUrls(app.authorize_url, app.token_url, None)


def scopes_for(app: OAuthApp, protocols: set[Protocol], sync: Iterable[str] = ()) -> str:
    """Microsoft issues a token for one resource at a time: Graph mailboxes need Graph scopes,
    IMAP/POP3/SMTP ones the Outlook scopes. Scopes an admin typed are used as given. `sync`:
    the kinds (contacts, calendar) a Graph or Gmail mailbox syncs, whose scopes are added."""
    provider = OAuthProvider(app.provider)
    scopes = app.scopes
    if provider is OAuthProvider.MICROSOFT and scopes == DEFAULT_SCOPES[provider]:
        scopes = GRAPH_SCOPES if Protocol.GRAPH in protocols else scopes
    words = [
        *SIGN_IN_SCOPES[provider].split(),
        *scopes.split(),
        *_sync_scopes(provider, protocols, sync),
    ]
    return " ".join(dict.fromkeys(words))


def scopes_for_mailbox(app: OAuthApp, mailbox: Mailbox) -> str:
    """As `scopes_for`; a delegate working a shared mailbox through Graph asks for the .Shared
    permissions instead (Mail.Read.Shared when postroom leaves the mail as it is, ReadWrite
    when it marks, moves or deletes; Mail.Send.Shared when it sends). Over IMAP and SMTP the
    Outlook scopes already cover a mailbox the delegate has rights on. Contacts and calendar
    scopes are added for the kinds the mailbox syncs."""
    servers = (mailbox.incoming_server, mailbox.outgoing_server)
    protocols = {Protocol(s.protocol) for s in servers if s is not None}
    kinds = (("contacts", mailbox.sync_contacts), ("calendar", mailbox.sync_calendar))
    scopes = scopes_for(app, protocols, [kind for kind, on in kinds if on])
    if mailbox.access != MailboxAccess.SHARED_DELEGATE.value or Protocol.GRAPH not in protocols:
        return scopes
    own = {GRAPH + "Mail.ReadWrite", GRAPH + "Mail.Send"}
    words = [w for w in scopes.split() if w not in own]
    incoming, outgoing = servers
    if incoming is not None and incoming.protocol == Protocol.GRAPH.value:
        keeps = mailbox.after_import == AfterImportKind.KEEP.value
        words.append(GRAPH + ("Mail.Read.Shared" if keeps else "Mail.ReadWrite.Shared"))
    if outgoing is not None and outgoing.protocol == Protocol.GRAPH.value:
        words.append(GRAPH + "Mail.Send.Shared")
    return " ".join(dict.fromkeys(words))


def _sync_scopes(
    provider: OAuthProvider, protocols: set[Protocol], sync: Iterable[str]
) -> list[str]:
    """IMAP mailboxes sync over CardDAV/CalDAV with their password: no scope for them."""
    if provider is OAuthProvider.MICROSOFT and Protocol.GRAPH in protocols:
        names = sync_scopes.GRAPH
    elif provider is OAuthProvider.GOOGLE and Protocol.GMAIL in protocols:
        names = sync_scopes.GOOGLE
    else:
        return []
    return [names[sync_scopes.KINDS[kind]] for kind in sync if kind in sync_scopes.KINDS]


PROVIDER_NAMES = {"microsoft": "Microsoft (Office 365)", "google": "Google (Gmail)"}


def name_for(db: Session, provider: str, app: str | None, redirect_uri: str = "") -> str:
    """The app a sign-in uses: the one named, else the provider's first registered one."""
    if app:
        return app
    name = db.scalar(
        select(OAuthApp.name).where(OAuthApp.provider == provider).order_by(OAuthApp.id)
    )
    if name is None:
        raise NotFound(_no_app(provider, redirect_uri))
    return name


def _no_app(provider: str, redirect_uri: str) -> str:
    """What an administrator must do, since a user cannot: register the app once."""
    label = PROVIDER_NAMES.get(provider, provider)
    return (
        f"Signing in with {label} needs an OAuth app, which no administrator has registered "
        f"yet. An administrator registers one with the provider (redirect URI: {redirect_uri}) "
        f"and adds it under Settings → OAuth apps, or with `postroom oauth-app add NAME "
        f"--provider {provider} --client-id ID --client-secret-stdin`. Until then, add the "
        "mailbox with its IMAP and SMTP servers and an app password."
    )


def client_config(app: OAuthApp, scope: str) -> ClientConfig:
    from postroom.connectors.oauth2 import ClientConfig

    secret = None
    if app.client_secret is not None:
        secret = default_box().open(app.client_secret, app.secret_identity("client_secret"))
    return ClientConfig(provider_urls(app), app.client_id, secret, scope)
