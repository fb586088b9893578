"""Providers for discovery: the built-in table plus administrators' own. Admins give domains
to a built-in provider or to their own (a name over servers they added), and discovery
offers those settings before any other source."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.discovery import providers as builtin
from postroom.discovery.model import ServerSetting
from postroom.discovery.sources import AdminEntry
from postroom.domain import validate
from postroom.domain.settings import LoginFormat, OAuthProvider, Protocol, Security
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.services import audit, servers
from postroom.services.actors import Actor
from postroom.storage.models import Provider, ProviderDomain, Server


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    servers: tuple[str, ...]
    display_name: str = ""
    oauth_provider: str | None = None
    domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderView:
    """A built-in or own provider, as admins see it: its settings and every domain it serves."""

    name: str
    display_name: str
    kind: str  # "built-in" or "own"
    oauth_provider: OAuthProvider | None
    settings: tuple[ServerSetting, ...]
    domains: tuple[str, ...]  # built in
    added_domains: tuple[str, ...]  # by administrators
    server_names: tuple[str, ...] = ()
    note: str = ""


def _setting(row: Server) -> ServerSetting:
    return ServerSetting(
        Protocol(row.protocol),
        row.host,
        row.port,
        Security(row.security),
        LoginFormat(row.login_format),
    )


def _added(
    db: Session, *, builtin_key: str | None = None, own: Provider | None = None
) -> tuple[str, ...]:
    query = select(ProviderDomain.domain).order_by(ProviderDomain.domain)
    if own is not None:
        query = query.where(ProviderDomain.provider_id == own.id)
    else:
        query = query.where(ProviderDomain.builtin == builtin_key)
    return tuple(db.scalars(query))


def _view_builtin(db: Session, provider: builtin.Provider) -> ProviderView:
    return ProviderView(
        name=provider.key,
        display_name=provider.name,
        kind="built-in",
        oauth_provider=provider.oauth,
        settings=provider.servers,
        domains=provider.domains,
        added_domains=_added(db, builtin_key=provider.key),
        note=provider.note,
    )


def _view_own(db: Session, row: Provider) -> ProviderView:
    return ProviderView(
        name=row.name,
        display_name=row.display_name or row.name,
        kind="own",
        oauth_provider=OAuthProvider(row.oauth_provider) if row.oauth_provider else None,
        settings=tuple(_setting(s) for s in row.servers),
        domains=(),
        added_domains=_added(db, own=row),
        server_names=tuple(s.name for s in row.servers),
    )


def _own(db: Session, name: str) -> Provider | None:
    return db.scalar(select(Provider).where(Provider.name == name.strip()))


def get(db: Session, name: str) -> ProviderView:
    key = name.strip().lower()
    if key in builtin.BY_KEY:
        return _view_builtin(db, builtin.BY_KEY[key])
    row = _own(db, name)
    if row is None:
        raise NotFound(f"No provider named {name!r}: `postroom provider list` shows them.")
    return _view_own(db, row)


def listing(db: Session) -> list[ProviderView]:
    own = db.scalars(select(Provider).order_by(Provider.name))
    return [_view_builtin(db, p) for p in builtin.BUILT_IN] + [_view_own(db, r) for r in own]


def add(db: Session, actor: Actor, spec: ProviderSpec) -> ProviderView:
    actor.require_admin("add providers")
    name = validate.name(spec.name, "provider name")
    if name.lower() in builtin.BY_KEY or _own(db, name) is not None:
        raise Conflict(f"A provider named {name!r} already exists: choose another name.")
    if not spec.servers:
        raise InvalidInput(
            "Name at least one server with --server (add it first with `postroom server add`).",
            field="servers",
        )
    oauth = None
    if spec.oauth_provider:
        oauth = validate.choice(OAuthProvider, spec.oauth_provider, "oauth provider").value
    row = Provider(
        name=name,
        display_name=spec.display_name.strip(),
        oauth_provider=oauth,
        servers=[servers.get(db, s) for s in dict.fromkeys(spec.servers)],
    )
    db.add(row)
    db.flush()
    audit.record(db, actor, "provider.added", name, servers=[s.name for s in row.servers])
    for domain in spec.domains:
        add_domain(db, actor, name, domain)
    return _view_own(db, row)


def remove(db: Session, actor: Actor, name: str) -> None:
    actor.require_admin("remove providers")
    if name.strip().lower() in builtin.BY_KEY:
        raise InvalidInput(
            f"{name!r} is built in and cannot be removed; its domains can be "
            "given to another provider, which then takes precedence."
        )
    row = _own(db, name)
    if row is None:
        raise NotFound(f"No provider named {name!r} of your own: `postroom provider list`.")
    db.delete(row)
    audit.record(db, actor, "provider.removed", row.name)


def _owner(domain_row: ProviderDomain) -> str:
    return domain_row.builtin or (domain_row.provider.name if domain_row.provider else "?")


def add_domain(db: Session, actor: Actor, name: str, domain: str) -> ProviderView:
    actor.require_admin("change provider domains")
    view = get(db, name)
    domain = validate.hostname(domain)
    taken = db.scalar(select(ProviderDomain).where(ProviderDomain.domain == domain))
    if taken is not None:
        raise Conflict(
            f"{domain} already belongs to provider {_owner(taken)!r}: remove it there first "
            f"with `postroom provider remove-domain {_owner(taken)} {domain}`."
        )
    if domain in view.domains:
        raise Conflict(f"{domain} is already one of {view.name}'s built-in domains.")
    own = _own(db, view.name) if view.kind == "own" else None
    db.add(
        ProviderDomain(
            domain=domain,
            builtin=view.name if own is None else None,
            provider_id=own.id if own is not None else None,
        )
    )
    db.flush()
    audit.record(db, actor, "provider.domain-added", view.name, domain=domain)
    return get(db, view.name)


def remove_domain(db: Session, actor: Actor, name: str, domain: str) -> ProviderView:
    actor.require_admin("change provider domains")
    view = get(db, name)
    domain = validate.hostname(domain)
    if domain not in view.added_domains:
        where = "built in, and stays" if domain in view.domains else "not one of its domains"
        raise NotFound(
            f"{domain} is {where} for provider {view.name!r}: only domains an "
            "administrator added can be removed."
        )
    row = db.scalar(select(ProviderDomain).where(ProviderDomain.domain == domain))
    db.delete(row)
    db.flush()
    audit.record(db, actor, "provider.domain-removed", view.name, domain=domain)
    return get(db, view.name)


def admin_entries(db: Session, domain: str) -> list[AdminEntry]:
    """What administrators said about `domain`: the provider it was given to, then servers that
    list it among their provider domains (`server add --provider-domain`)."""
    entries: list[AdminEntry] = []
    assigned = db.scalar(select(ProviderDomain).where(ProviderDomain.domain == domain))
    if assigned is not None:
        view = get(db, _owner(assigned))
        entries += [AdminEntry(view.display_name, s, view.oauth_provider) for s in view.settings]
    for row in servers.listing(db):
        if domain in (row.provider_domains or []):
            entries.append(AdminEntry(f"server {row.name}", _setting(row)))
    return entries


def update(db: Session, actor: Actor, name: str, spec: ProviderSpec) -> ProviderView:
    """The console's edit: an own provider's name shown, OAuth provider, servers and domains;
    a built-in one keeps its settings, so only the domains administrators added change.
    Domains are made to match `spec.domains`, each through add_domain / remove_domain so the
    same refusals (a domain another provider has) apply."""
    actor.require_admin("change providers")
    view = get(db, name)
    if view.kind == "own":
        row = _own(db, view.name)
        assert row is not None
        if not spec.servers:
            raise InvalidInput("Choose at least one server for the provider.", field="servers")
        row.display_name = spec.display_name.strip()
        row.oauth_provider = (
            validate.choice(OAuthProvider, spec.oauth_provider, "oauth provider").value
            if spec.oauth_provider
            else None
        )
        row.servers = [servers.get(db, s) for s in dict.fromkeys(spec.servers)]
        db.flush()
        audit.record(db, actor, "provider.changed", row.name, servers=list(spec.servers))
    wanted = [validate.hostname(d) for d in spec.domains if d.strip()]
    for domain in view.added_domains:
        if domain not in wanted:
            remove_domain(db, actor, view.name, domain)
    for domain in dict.fromkeys(wanted):
        if domain not in view.added_domains:
            add_domain(db, actor, view.name, domain)
    return get(db, view.name)
