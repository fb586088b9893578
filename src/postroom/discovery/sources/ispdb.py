"""Thunderbird's ISPDB: settings Mozilla keeps for providers that publish none themselves."""

from __future__ import annotations

from postroom.discovery.sources.autoconfig import ConfigFile

ISPDB = ConfigFile(
    "ispdb",
    "Thunderbird's ISP database",
    lambda ctx, address: ctx.url(ctx.ispdb_url, address),
)
