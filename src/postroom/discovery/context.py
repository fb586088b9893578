"""Where discovery looks: every address it dials comes from here, so tests point it at loopback
and production uses the real names. Settings come from POSTROOM_DISCOVERY_* variables."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

import dns.resolver
import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict

from postroom.domain.settings import DEFAULT_PORTS, Protocol, Security

DEFAULT_TIMEOUT = 5.0
AUTOCONFIG_URL = "https://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={address}"
WELL_KNOWN_URL = "https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml"
ISPDB_URL = "https://autoconfig.thunderbird.net/v1.1/{domain}"
AUTODISCOVER_URL = (
    "https://autodiscover-s.outlook.com/autodiscover/autodiscover.json"
    "?Email={address}&Protocol={protocol}"
)
MAX_ANSWER_BYTES = 256 * 1024  # a config file is a few KB; more is an answer not to trust
PROBED = tuple(
    (p, s)
    for p in (Protocol.IMAP, Protocol.POP3, Protocol.SMTP)
    for s in Security
    if s is not Security.NONE
)


def _probe_key(protocol: Protocol, security: Security) -> str:
    return f"{protocol.value}/{security.value}"


@dataclass(frozen=True)
class DiscoveryContext:
    timeout: float = DEFAULT_TIMEOUT
    nameserver: tuple[str, int] | None = None  # None: the machine's resolver (resolv.conf)
    autoconfig_url: str = AUTOCONFIG_URL
    well_known_url: str = WELL_KNOWN_URL
    ispdb_url: str = ISPDB_URL
    autodiscover_url: str = AUTODISCOVER_URL
    ca_bundle: Path | None = None  # None: the system's trust store
    probe_ports: Mapping[str, int] = field(
        default_factory=lambda: {_probe_key(p, s): DEFAULT_PORTS[(p, s)] for p, s in PROBED}
    )
    # Loopback, link-local, private and this server's own addresses are skipped unless an
    # administrator allows them (POSTROOM_DISCOVERY_ALLOW_PRIVATE): discovery is open to every
    # user, and must not become their way to look inside the server's network.
    allow_private: bool = False

    def with_timeout(self, seconds: float | None) -> DiscoveryContext:
        return self if seconds is None else replace(self, timeout=seconds)

    def url(self, template: str, address: str, **extra: str) -> str:
        domain = address.rsplit("@", 1)[1]
        return template.format(domain=domain, address=quote(address, safe="@"), **extra)

    def probe_port(self, protocol: Protocol, security: Security) -> int:
        return self.probe_ports.get(
            _probe_key(protocol, security), DEFAULT_PORTS[(protocol, security)]
        )

    def resolver(self) -> dns.resolver.Resolver:
        """The one way discovery resolves names: never the system's, when a nameserver is set."""
        if self.nameserver is None:
            resolver = dns.resolver.Resolver()
        else:
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [self.nameserver[0]]
            resolver.port = self.nameserver[1]
        resolver.lifetime = self.timeout
        resolver.timeout = self.timeout
        return resolver

    def tls_context(self) -> ssl.SSLContext:
        if self.ca_bundle is None:
            return ssl.create_default_context()
        return ssl.create_default_context(cafile=str(self.ca_bundle))

    def http_client(self) -> httpx.Client:
        """Certificates are always verified, redirects are not followed (a config must come from
        the host asked), and no credentials or cookies are ever sent."""
        return httpx.Client(
            verify=self.tls_context(),
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": "postroom-discovery"},
        )


class DiscoverySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POSTROOM_DISCOVERY_", extra="ignore")

    timeout: float = DEFAULT_TIMEOUT
    nameserver: str | None = None  # "IPV4" or "IPV4:PORT"; unset: the system resolver
    autoconfig_url: str = AUTOCONFIG_URL
    well_known_url: str = WELL_KNOWN_URL
    ispdb_url: str = ISPDB_URL
    autodiscover_url: str = AUTODISCOVER_URL
    ca_bundle: Path | None = None
    probe_ports: dict[str, int] = {}
    allow_private: bool = False

    def context(self) -> DiscoveryContext:
        nameserver = None
        if self.nameserver:
            host, colon, port = self.nameserver.partition(":")
            nameserver = (host, int(port) if colon else 53)
        base = DiscoveryContext()
        return DiscoveryContext(
            timeout=self.timeout,
            nameserver=nameserver,
            autoconfig_url=self.autoconfig_url,
            well_known_url=self.well_known_url,
            ispdb_url=self.ispdb_url,
            autodiscover_url=self.autodiscover_url,
            ca_bundle=self.ca_bundle,
            probe_ports={**base.probe_ports, **self.probe_ports},
            allow_private=self.allow_private,
        )
