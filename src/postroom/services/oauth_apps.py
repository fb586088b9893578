"""OAuth apps: registered OAuth2 clients, stored now and used by the OAuth2 sign-in."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.domain import validate
from postroom.domain.settings import OAuthProvider
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.services import audit
from postroom.services.actors import Actor
from postroom.storage.models import OAuthApp
from postroom.storage.secrets import default_box

DEFAULT_SCOPES = {
    OAuthProvider.MICROSOFT: "offline_access https://outlook.office.com/IMAP.AccessAsUser.All "
    "https://outlook.office.com/SMTP.Send",
    OAuthProvider.GOOGLE: "https://mail.google.com/",
}


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


def add(db: Session, actor: Actor, spec: OAuthAppSpec) -> OAuthApp:
    actor.require_admin("add OAuth apps")
    provider = validate.choice(OAuthProvider, spec.provider, "provider")
    client_id = spec.client_id.strip()
    if not client_id:
        raise InvalidInput("Give the application (client) ID with --client-id.", field="client_id")
    app = OAuthApp(
        name=validate.name(spec.name, "OAuth app name"),
        provider=provider.value,
        client_id=client_id,
        tenant=(spec.tenant or "").strip()
        or ("common" if provider is OAuthProvider.MICROSOFT else None),
        authorize_url=_url(spec.authorize_url, "authorize URL"),
        token_url=_url(spec.token_url, "token URL"),
        scopes=(spec.scopes or DEFAULT_SCOPES.get(provider, "")).strip(),
    )
    if provider is OAuthProvider.GENERIC and not (app.authorize_url and app.token_url):
        raise InvalidInput("A generic OAuth app needs --authorize-url and --token-url.")
    if db.scalar(select(OAuthApp.id).where(OAuthApp.name == app.name)) is not None:
        raise Conflict(f"An OAuth app named {app.name!r} already exists: choose another name.")
    db.add(app)
    db.flush()
    if spec.client_secret:
        app.client_secret = default_box().seal(
            spec.client_secret, app.secret_identity("client_secret")
        )
    audit.record(db, actor, "oauth-app.added", app.name, provider=app.provider)
    return app


def get(db: Session, name: str) -> OAuthApp:
    app = db.scalar(select(OAuthApp).where(OAuthApp.name == name.strip()))
    if app is None:
        raise NotFound(f"No OAuth app named {name!r}: `postroom oauth-app list` shows them.")
    return app


def listing(db: Session) -> list[OAuthApp]:
    return list(db.scalars(select(OAuthApp).order_by(OAuthApp.name)))
