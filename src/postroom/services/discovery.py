"""Discovery as a use case: the administrators' table from the database, then every source.

Read-only and open to every user (adding a personal mailbox starts here); nothing is signed
in to and nothing is stored, so it writes no audit entry."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from postroom.discovery import lookup
from postroom.discovery.context import DiscoveryContext, DiscoverySettings
from postroom.discovery.model import Candidate, Discovery
from postroom.domain import validate
from postroom.services import providers, servers
from postroom.services.actors import Actor
from postroom.storage.db import unit_of_work
from postroom.storage.models import Server


def discover(
    actor: Actor,
    address: str,
    *,
    timeout: float | None = None,
    context: DiscoveryContext | None = None,
    engine: Engine | None = None,
) -> Discovery:
    """Settings for `address`, ranked, each naming its source, with every source's outcome.
    `timeout` bounds each source (default 5 s, POSTROOM_DISCOVERY_TIMEOUT); `context` replaces
    the POSTROOM_DISCOVERY_* settings (nameserver, URLs, CA bundle, probe ports). The table is
    read in a short transaction of its own: no database connection waits on the network."""
    address, domain = lookup.checked_address(address)
    seconds = validate.timeout(timeout, "discovery timeout")
    ctx = (context if context is not None else DiscoverySettings().context()).with_timeout(seconds)
    with unit_of_work(engine) as db:
        entries = providers.admin_entries(db, domain)
    return lookup.discover(address, ctx, admin_entries=entries)


def matching_server(db: Session, candidate: Candidate) -> Server | None:
    """The configured server that already has a candidate's settings, so a mailbox form can
    pick it instead of asking for a new one."""
    for server in servers.listing(db):
        if (
            server.protocol == candidate.protocol.value
            and server.host.lower() == candidate.host.lower()
            and server.port == candidate.port
            and server.security == candidate.security.value
        ):
            return server
    return None
