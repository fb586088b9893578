"""Discovery for one address, with no database: the service adds the administrators' table."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from postroom.discovery.context import DiscoveryContext, DiscoverySettings
from postroom.discovery.model import Discovery, Source
from postroom.discovery.run import run
from postroom.discovery.sources import AdminEntry, all_sources
from postroom.domain import validate
from postroom.errors import InvalidInput


def checked_address(value: str) -> tuple[str, str]:
    """The address and its domain; an IP-literal domain publishes no settings anywhere."""
    address = validate.address(value)
    domain = address.rsplit("@", 1)[1]
    try:
        ipaddress.ip_address(domain.strip("[]"))
    except ValueError:
        return address, domain
    raise InvalidInput(
        f"{value!r} has an IP address for a domain: discovery needs a domain name such as "
        "example.com; add the server by hand with `postroom server add`.",
        field="address",
    )


def discover(
    address: str,
    ctx: DiscoveryContext | None = None,
    *,
    admin_entries: Sequence[AdminEntry] = (),
    sources: Sequence[Source] | None = None,
) -> Discovery:
    address, domain = checked_address(address)
    context = ctx if ctx is not None else DiscoverySettings().context()
    return run(address, domain, sources or all_sources(admin_entries), context)
