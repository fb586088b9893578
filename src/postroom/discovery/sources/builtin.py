"""The providers postroom knows by their own domains (gmail.com, outlook.com, ...)."""

from __future__ import annotations

from postroom.discovery import providers
from postroom.discovery.context import DiscoveryContext
from postroom.discovery.model import Candidate, Nothing, from_setting


class BuiltIn:
    name = "built-in"
    description = "postroom's table of major providers"

    def lookup(self, address: str, ctx: DiscoveryContext) -> list[Candidate]:
        domain = address.rsplit("@", 1)[1]
        provider = providers.for_domain(domain)
        if provider is None:
            raise Nothing(f"{domain} is not a built-in provider's domain")
        return [
            from_setting(s, self.name, provider.name, provider.oauth, provider.note)
            for s in provider.servers
        ]
