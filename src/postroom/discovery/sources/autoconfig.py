"""Thunderbird autoconfig published by the domain itself: autoconfig.<domain>, then the
.well-known path on the domain (two sources, so each outcome is shown)."""

from __future__ import annotations

from collections.abc import Callable

from postroom.discovery import autoconfig_xml, net
from postroom.discovery.context import DiscoveryContext
from postroom.discovery.model import Candidate, Nothing


class ConfigFile:
    """A config-v1.1.xml fetched from a URL the context builds for the address."""

    def __init__(
        self, name: str, description: str, url: Callable[[DiscoveryContext, str], str]
    ) -> None:
        self.name, self.description, self._url = name, description, url

    def lookup(self, address: str, ctx: DiscoveryContext) -> list[Candidate]:
        found = autoconfig_xml.parse(net.fetch(ctx, self._url(ctx, address)), address, self.name)
        if not found:
            raise Nothing("the autoconfig file lists no IMAP, POP3 or SMTP server")
        return found


AUTOCONFIG = ConfigFile(
    "autoconfig",
    "The domain's autoconfig host (autoconfig.<domain>)",
    lambda ctx, address: ctx.url(ctx.autoconfig_url, address),
)
WELL_KNOWN = ConfigFile(
    "well-known",
    "The domain's /.well-known/autoconfig file",
    lambda ctx, address: ctx.url(ctx.well_known_url, address),
)
