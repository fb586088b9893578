"""Connections: named outbound routes that processes pick by name, overriding the default
sender (the Infor seed's email connections)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.domain import validate
from postroom.domain.endpoints import Endpoint
from postroom.domain.settings import Security
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.services import audit, mailboxes
from postroom.services.actors import Actor
from postroom.services.servers import endpoint_of
from postroom.storage.models import Connection

# "none": a relay that accepts mail by network address, as internal relays often do.
AUTH_KINDS = ("basic", "oauth2", "none")


@dataclass
class ConnectionSpec:
    name: str
    mailbox: str
    security: str | None = None
    connect_timeout: float | None = None
    send_timeout: float | None = None
    auth: str = "basic"
    action_base_url: str | None = None


def _checked(db: Session, actor: Actor, spec: ConnectionSpec) -> dict[str, Any]:
    """Every field of a connection, validated: add and edit share this, so they refuse alike."""
    name = validate.name(spec.name, "connection name")
    mailbox = mailboxes.get_for(db, actor, spec.mailbox)
    if mailbox.outgoing_server is None or not mailbox.send_enabled:
        raise InvalidInput(
            f"{mailbox.address} cannot send: give it an outgoing server first.", field="mailbox"
        )
    if spec.auth not in AUTH_KINDS:
        raise InvalidInput(
            f"Unknown authentication {spec.auth!r}: use basic, oauth2 or none.", field="auth"
        )
    if spec.auth == "oauth2" and mailbox.oauth_app is None:
        raise InvalidInput(
            f"{mailbox.address} has no OAuth app: connect it with OAuth2 first.", field="auth"
        )
    base = spec.action_base_url.strip().rstrip("/") if spec.action_base_url else None
    if base is not None:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(
                f"The action base URL {base!r} is not an http(s) URL.", field="action_base_url"
            )
    security = spec.security or mailbox.outgoing_server.security
    return {
        "name": name,
        "mailbox": mailbox,
        "security": validate.choice(Security, security, "security").value,
        "connect_timeout": validate.timeout(spec.connect_timeout, "connect timeout"),
        "send_timeout": validate.timeout(spec.send_timeout, "send timeout"),
        "auth": spec.auth,
        "action_base_url": base,
    }


def _name_free(db: Session, name: str, keep: int | None = None) -> None:
    taken = db.scalar(select(Connection.id).where(Connection.name == name))
    if taken is not None and taken != keep:
        raise Conflict(f"A connection named {name!r} already exists: choose another name.")


def add(db: Session, actor: Actor, spec: ConnectionSpec) -> Connection:
    actor.require_admin("add connections")
    values = _checked(db, actor, spec)
    _name_free(db, values["name"])
    connection = Connection(**values)
    db.add(connection)
    db.flush()
    audit.record(db, actor, "connection.added", connection.name, mailbox=connection.mailbox.address)
    return connection


def spec_of(connection: Connection) -> ConnectionSpec:
    return ConnectionSpec(
        name=connection.name,
        mailbox=connection.mailbox.address,
        security=connection.security,
        connect_timeout=connection.connect_timeout,
        send_timeout=connection.send_timeout,
        auth=connection.auth,
        action_base_url=connection.action_base_url,
    )


EDITABLE = tuple(f.name for f in fields(ConnectionSpec))
REQUIRED = ("name", "mailbox", "auth")


def update(db: Session, actor: Actor, name: str, changes: dict[str, Any]) -> Connection:
    """Change the fields named in `changes` (None clears a timeout or the base URL); the
    console, the API's PATCH and `connection edit` all come here."""
    actor.require_admin("change connections")
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"Connections have no field {sorted(unknown)[0]!r}.")
    connection = get(db, name)
    # A null name, mailbox or sign-in means "as it is": only timeouts, the security (back to
    # the server's) and the base URL are cleared by null.
    kept = {k: v for k, v in changes.items() if v is not None or k not in REQUIRED}
    spec = replace(spec_of(connection), **kept)
    values = _checked(db, actor, spec)
    _name_free(db, values["name"], keep=connection.id)
    changed = sorted(k for k, v in values.items() if getattr(connection, k) != v)
    for key, value in values.items():
        setattr(connection, key, value)
    db.flush()
    audit.record(db, actor, "connection.changed", connection.name, fields=",".join(changed))
    return connection


def get(db: Session, name: str) -> Connection:
    connection = db.scalar(select(Connection).where(Connection.name == name.strip()))
    if connection is None:
        raise NotFound(f"No connection named {name!r}: `postroom connection list` shows them.")
    return connection


def listing(db: Session) -> list[Connection]:
    return list(db.scalars(select(Connection).order_by(Connection.name)))


def remove(db: Session, actor: Actor, name: str) -> None:
    actor.require_admin("remove connections")
    connection = get(db, name)
    db.delete(connection)
    audit.record(db, actor, "connection.removed", name)


def endpoint(connection: Connection) -> Endpoint:
    """The mailbox's outgoing server, with the connection's security and timeouts (blank: none)."""
    server = connection.mailbox.outgoing_server
    assert server is not None
    return replace(
        endpoint_of(server),
        security=Security(connection.security),
        connect_timeout=connection.connect_timeout,
        timeout=connection.send_timeout,
    )
