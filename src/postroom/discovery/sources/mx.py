"""A custom domain whose MX points at a known provider (aspmx.l.google.com, *.mail.protection
.outlook.com) is served by that provider: offer its settings."""

from __future__ import annotations

from postroom.discovery import net, providers
from postroom.discovery.context import DiscoveryContext
from postroom.discovery.model import Candidate, Nothing, from_setting


class MxProvider:
    name = "mx"
    description = "The provider the domain's MX records point at"

    def lookup(self, address: str, ctx: DiscoveryContext) -> list[Candidate]:
        domain = address.rsplit("@", 1)[1]
        records = sorted(net.query(ctx, domain, "MX"), key=lambda r: r.preference)
        hosts = [r.exchange.to_text(omit_final_dot=True) for r in records]
        for host in hosts:
            provider = providers.for_host(host)
            if provider is not None:
                note = f"mail for {domain} is delivered to {host}"
                return [
                    from_setting(s, self.name, provider.name, provider.oauth, note)
                    for s in provider.servers
                ]
        raise Nothing(f"MX {', '.join(hosts)} belongs to no known provider")
