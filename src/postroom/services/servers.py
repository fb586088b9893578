"""Mail servers: where mail lives and how to reach it. Shared by many mailboxes, so a server in
use cannot be removed (the error names who uses it)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from postroom.domain import validate
from postroom.domain.endpoints import Endpoint
from postroom.domain.settings import (
    DEFAULT_HOSTS,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_PORTS,
    LoginFormat,
    Protocol,
    Security,
)
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.outbound import limits
from postroom.services import audit, in_use
from postroom.services.actors import Actor
from postroom.storage.models import Mailbox, Provider, ProviderServer, Server


def endpoint_of(server: Server) -> Endpoint:
    """What a connector needs from a server row: connectors never see the database."""
    return Endpoint(
        protocol=Protocol(server.protocol),
        host=server.host,
        port=server.port,
        security=Security(server.security),
        connect_timeout=server.connect_timeout,
        timeout=server.timeout,
        verify_tls=server.verify_tls,
    )


@dataclass
class ServerSpec:
    """What a person types to describe a server, before it is checked."""

    name: str
    protocol: str
    host: str | None = None
    port: int | None = None
    security: str | None = None
    connect_timeout: float | None = 15.0
    timeout: float | None = 60.0
    login_format: str = "address"
    verify_tls: bool = True
    provider_domains: tuple[str, ...] = ()
    max_connections: int | None = None  # None: the default (10), or unchanged on an edit
    # Sending limits per sending mailbox. None: the provider's documented default (Microsoft
    # 365, Gmail), or no limit for other hosts; "none" / 0: no limit.
    send_rate: str | None = None
    recipients_per_day: int | None = None


def _max_connections(value: int) -> int:
    if not 1 <= value <= 10_000:
        raise InvalidInput(
            "--max-connections is the number of connections a worker may hold for one login: "
            "give 1 to 10000 (Dovecot allows 10 by default).",
            field="max_connections",
        )
    return value


def _limits(spec: ServerSpec, host: str) -> limits.Limits:
    known = limits.defaults_for(host)
    rate = known.rate if spec.send_rate is None else limits.parse_rate(spec.send_rate)
    per_day = known.recipients_per_day
    if spec.recipients_per_day is not None:
        if spec.recipients_per_day < 0:
            raise InvalidInput(
                "Recipients a day is a count: 0 for no limit.", field="recipients_per_day"
            )
        per_day = spec.recipients_per_day or None
    return limits.Limits(rate, per_day)


def checked(spec: ServerSpec) -> Server:
    """The server a spec describes, validated but not stored (the console tests it first)."""
    protocol = validate.choice(Protocol, spec.protocol, "protocol")
    security = validate.choice(Security, spec.security or "tls", "security")
    if protocol.speaks_tcp:
        if not spec.host:
            raise InvalidInput("Give the server's host with --host.", field="host")
        host = validate.hostname(spec.host)
    else:
        host = validate.hostname(spec.host or DEFAULT_HOSTS[protocol])
        if security is not Security.TLS:
            raise InvalidInput(f"{protocol.value} is reached over HTTPS only: use --security tls.")
    port = (
        validate.port(spec.port) if spec.port is not None else DEFAULT_PORTS[(protocol, security)]
    )
    domains = [validate.hostname(d) for d in spec.provider_domains]
    sending = _limits(spec, host)
    return Server(
        name=validate.name(spec.name, "server name"),
        protocol=protocol.value,
        host=host,
        port=port,
        security=security.value,
        connect_timeout=validate.timeout(spec.connect_timeout, "connect timeout"),
        timeout=validate.timeout(spec.timeout, "operation timeout"),
        login_format=validate.choice(LoginFormat, spec.login_format, "login format").value,
        verify_tls=spec.verify_tls,
        provider_domains=domains,
        max_connections=_max_connections(
            DEFAULT_MAX_CONNECTIONS if spec.max_connections is None else spec.max_connections
        ),
        send_rate=sending.rate.count if sending.rate else None,
        send_rate_seconds=sending.rate.seconds if sending.rate else None,
        recipients_per_day=sending.recipients_per_day,
    )


def add(db: Session, actor: Actor, spec: ServerSpec) -> Server:
    actor.require_admin("add servers")
    server = checked(spec)
    if db.scalar(select(Server.id).where(Server.name == server.name)) is not None:
        raise Conflict(f"A server named {server.name!r} already exists: choose another name.")
    db.add(server)
    db.flush()
    audit.record(db, actor, "server.added", server.name, host=server.host, port=server.port)
    return server


EDITABLE = (
    "name",
    "protocol",
    "host",
    "port",
    "security",
    "connect_timeout",
    "timeout",
    "login_format",
    "verify_tls",
    "provider_domains",
    "send_rate",
    "send_rate_seconds",
    "recipients_per_day",
)


def update(db: Session, actor: Actor, name: str, spec: ServerSpec) -> Server:
    actor.require_admin("change servers")
    server = get(db, name)
    changed = checked(spec)
    if changed.name != server.name and db.scalar(
        select(Server.id).where(Server.name == changed.name)
    ):
        raise Conflict(f"A server named {changed.name!r} already exists: choose another name.")
    in_use = users_of(db, server)
    if changed.protocol != server.protocol and in_use:
        names = ", ".join(m.address for m in in_use)
        raise InvalidInput(
            f"Mailboxes use this server as {server.protocol} ({names}): add a new server for "
            f"{changed.protocol} instead of changing its protocol.",
            field="protocol",
        )
    for column in EDITABLE:
        setattr(server, column, getattr(changed, column))
    if spec.max_connections is not None:
        server.max_connections = changed.max_connections
    audit.record(db, actor, "server.changed", server.name, host=server.host, port=server.port)
    return server


def spec_of(server: Server) -> ServerSpec:
    """The spec a stored server was made from, for an edit that changes a few fields."""
    rate = (
        limits.Rate(server.send_rate, server.send_rate_seconds or 60) if server.send_rate else None
    )
    return ServerSpec(
        name=server.name,
        protocol=server.protocol,
        host=server.host,
        port=server.port,
        security=server.security,
        connect_timeout=server.connect_timeout,
        timeout=server.timeout,
        login_format=server.login_format,
        verify_tls=server.verify_tls,
        provider_domains=tuple(server.provider_domains or ()),
        send_rate=str(rate) if rate else "none",
        recipients_per_day=server.recipients_per_day or 0,
        max_connections=server.max_connections,
    )


def get(db: Session, name: str) -> Server:
    server = db.scalar(select(Server).where(Server.name == name.strip()))
    if server is None:
        raise NotFound(f"No server named {name!r}: `postroom server list` shows them.")
    return server


def listing(db: Session) -> list[Server]:
    return list(db.scalars(select(Server).order_by(Server.name)))


def users_of(db: Session, server: Server) -> list[Mailbox]:
    query = select(Mailbox).where(
        or_(Mailbox.incoming_server_id == server.id, Mailbox.outgoing_server_id == server.id)
    )
    return list(db.scalars(query.order_by(Mailbox.address)))


def _providers_of(db: Session, server: Server) -> list[Provider]:
    query = (
        select(Provider)
        .join(ProviderServer, ProviderServer.provider_id == Provider.id)
        .where(ProviderServer.server_id == server.id)
        .order_by(Provider.name)
    )
    return list(db.scalars(query))


def remove(db: Session, actor: Actor, name: str) -> None:
    actor.require_admin("remove servers")
    server = get(db, name)
    in_use.refuse_removal(
        f"Server {server.name!r}", users_of(db, server), "Move or remove them first."
    )
    using = [p.name for p in _providers_of(db, server)]
    if using:  # else the provider would silently lose part of what discovery offers
        raise Conflict(
            f"Server {server.name!r} is still used by the provider(s) {', '.join(using)}: "
            "remove them first (`postroom provider remove NAME`), or add them again without "
            "this server (`postroom provider add NAME --server S`)."
        )
    db.delete(server)
    audit.record(db, actor, "server.removed", server.name)
