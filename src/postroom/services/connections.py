"""Connections: named outbound routes that processes pick by name, overriding the default
sender (the Infor seed's email connections)."""

from __future__ import annotations

from dataclasses import dataclass, replace
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


def add(db: Session, actor: Actor, spec: ConnectionSpec) -> Connection:
    actor.require_admin("add connections")
    name = validate.name(spec.name, "connection name")
    mailbox = mailboxes.get_for(db, actor, spec.mailbox)
    if mailbox.outgoing_server is None or not mailbox.send_enabled:
        raise InvalidInput(f"{mailbox.address} cannot send: give it an outgoing server first.")
    if spec.auth not in AUTH_KINDS:
        raise InvalidInput(f"Unknown authentication {spec.auth!r}: use basic, oauth2 or none.")
    if spec.auth == "oauth2" and mailbox.oauth_app is None:
        raise InvalidInput(f"{mailbox.address} has no OAuth app: connect it with OAuth2 first.")
    base = spec.action_base_url.strip().rstrip("/") if spec.action_base_url else None
    if base is not None:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(f"The action base URL {base!r} is not an http(s) URL.")
    security = spec.security or mailbox.outgoing_server.security
    connection = Connection(
        name=name,
        mailbox=mailbox,
        security=validate.choice(Security, security, "security").value,
        connect_timeout=validate.timeout(spec.connect_timeout, "connect timeout"),
        send_timeout=validate.timeout(spec.send_timeout, "send timeout"),
        auth=spec.auth,
        action_base_url=base,
    )
    if db.scalar(select(Connection.id).where(Connection.name == name)) is not None:
        raise Conflict(f"A connection named {name!r} already exists: choose another name.")
    db.add(connection)
    db.flush()
    audit.record(db, actor, "connection.added", name, mailbox=mailbox.address)
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
