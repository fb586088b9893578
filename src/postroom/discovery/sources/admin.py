"""The administrators' own table: read by the service before discovery starts, so this source
holds a snapshot and never opens a database session from a worker thread."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from postroom.discovery.context import DiscoveryContext
from postroom.discovery.model import Candidate, Nothing, ServerSetting, from_setting
from postroom.domain.settings import OAuthProvider


@dataclass(frozen=True)
class AdminEntry:
    provider: str
    setting: ServerSetting
    oauth: OAuthProvider | None = None


class AdminTable:
    name = "admin"
    description = "Domains and servers administrators added to postroom"

    def __init__(self, entries: Sequence[AdminEntry]) -> None:
        self._entries = tuple(entries)

    def lookup(self, address: str, ctx: DiscoveryContext) -> list[Candidate]:
        if not self._entries:
            raise Nothing("no administrator entry for this domain")
        return [from_setting(e.setting, self.name, e.provider, e.oauth) for e in self._entries]
