"""The plain results of discovery, shared by every source, the ranking and the callers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING
from typing import Protocol as Interface

from postroom.domain.settings import LoginFormat, OAuthProvider, Protocol, Security

if TYPE_CHECKING:
    from postroom.discovery.context import DiscoveryContext


@dataclass(frozen=True)
class ServerSetting:
    """One way to reach a provider's mail: what a built-in or admin table row holds."""

    protocol: Protocol
    host: str
    port: int
    security: Security
    login_format: LoginFormat = LoginFormat.ADDRESS


@dataclass(frozen=True)
class Candidate:
    """A setting one source proposes for an address. `guessed` means no authority published
    it (a probe, or a name inferred from another protocol): the user confirms before any
    password is sent to it."""

    protocol: Protocol
    host: str
    port: int
    security: Security
    login_format: LoginFormat
    oauth_provider: OAuthProvider | None
    source: str
    provider: str | None = None
    guessed: bool = False
    note: str = ""
    also_found_by: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[Protocol, str, int, Security]:
        return (self.protocol, self.host, self.port, self.security)


def from_setting(
    setting: ServerSetting,
    source: str,
    provider: str | None,
    oauth: OAuthProvider | None,
    note: str = "",
) -> Candidate:
    return Candidate(
        protocol=setting.protocol,
        host=setting.host,
        port=setting.port,
        security=setting.security,
        login_format=setting.login_format,
        oauth_provider=oauth,
        source=source,
        provider=provider,
        note=note,
    )


class OutcomeStatus(StrEnum):
    FOUND = "found"
    NOTHING = "nothing"
    TIMED_OUT = "timed-out"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class SourceOutcome:
    """What one source did, so a person sees why a setting is (or is not) offered."""

    source: str
    status: OutcomeStatus
    detail: str
    seconds: float


@dataclass(frozen=True)
class Discovery:
    address: str
    domain: str
    candidates: tuple[Candidate, ...]
    outcomes: tuple[SourceOutcome, ...] = field(default=())

    def best(self, *, sending: bool) -> Candidate | None:
        """The highest-ranked candidate that receives (or sends): what a form is filled with."""
        for candidate in self.candidates:
            if candidate.protocol.sends if sending else candidate.protocol.receives:
                return candidate
        return None


class Nothing(Exception):
    """A source looked and the domain publishes nothing there (404, NXDOMAIN, no record)."""


class SourceFailed(Exception):
    """A source got an answer it cannot use (malformed, hostile, an error status)."""


class Skipped(Exception):
    """A source would have reached an address discovery must not reach (loopback, a private
    network, this server): its message starts "skipped: private address"."""


class Source(Interface):
    """One place settings may be found. `lookup` returns candidates (empty: nothing there),
    raises Nothing with a reason, SourceFailed for an unusable answer, or TimeoutError; it
    never signs in and never touches the database."""

    name: str
    description: str

    def lookup(self, address: str, ctx: DiscoveryContext) -> list[Candidate]: ...
