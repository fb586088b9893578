"""Discovery pointed at loopback, for any test that runs it (discovery, API, console): a guard
fails a test whose process reaches for another address, DNS port 53, or the machine's resolver
configuration; local DNS and HTTPS servers stand for the world."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from postroom.discovery.context import DiscoveryContext
from tests.servers.certs import TestCA
from tests.servers.dns import DnsServer
from tests.servers.web import WebServer

LOOPBACK = {"127.0.0.1", "::1", "localhost", b"127.0.0.1", b"localhost"}


class LeftLoopback(RuntimeError):
    """Not an OSError, so no network code mistakes it for an ordinary failure and hides it."""


@dataclass
class Guard:
    active: bool = False
    violations: list[str] = field(default_factory=list)

    def refuse(self, what: str) -> None:
        self.violations.append(what)
        raise LeftLoopback(f"test traffic must stay on loopback: {what}")

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        if event == "open" and str(args[0]) == "/etc/resolv.conf":
            self.refuse("the system resolver's configuration was read")
        elif event == "socket.getaddrinfo" and args[0] not in LOOPBACK and args[0] is not None:
            self.refuse(f"name lookup of {args[0]!r} through the system resolver")
        elif event in ("socket.connect", "socket.sendto") and isinstance(args[1], tuple):
            host, port = args[1][0], args[1][1]
            if host not in LOOPBACK or port == 53:
                self.refuse(f"traffic to {host}:{port}")


GUARD = Guard()
sys.addaudithook(GUARD.hook)


@pytest.fixture
def loopback_only() -> Iterator[Guard]:
    GUARD.violations.clear()
    GUARD.active = True
    try:
        yield GUARD
    finally:
        GUARD.active = False
    assert GUARD.violations == []


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    with DnsServer() as server:
        yield server


@pytest.fixture
def web(test_ca: TestCA) -> Iterator[WebServer]:
    with WebServer(test_ca) as server:
        yield server


CLOSED_PORTS = {
    "imap/tls": 1,
    "imap/starttls": 1,
    "pop3/tls": 1,
    "pop3/starttls": 1,
    "smtp/tls": 1,
    "smtp/starttls": 1,
}  # port 1: nothing listens, refused at once


@pytest.fixture
def ctx(dns_server: DnsServer, web: WebServer, test_ca: TestCA) -> DiscoveryContext:
    """Every address discovery dials, on loopback: the DNS server, one HTTPS server whose
    paths stand for autoconfig hosts, .well-known, the ISPDB and Autodiscover."""
    base = web.base_url
    return DiscoveryContext(
        timeout=2.0,
        nameserver=dns_server.address,
        autoconfig_url=base + "/autoconfig/{domain}/mail/config-v1.1.xml?emailaddress={address}",
        well_known_url=base + "/wk/{domain}/.well-known/autoconfig/mail/config-v1.1.xml",
        ispdb_url=base + "/ispdb/v1.1/{domain}",
        autodiscover_url=base
        + "/autodiscover/autodiscover.json?Email={address}&Protocol={protocol}",
        ca_bundle=test_ca.ca_bundle_path,
        probe_ports=dict(CLOSED_PORTS),
        allow_private=True,  # every test server is on loopback; test_targets.py turns it off
    )


@pytest.fixture
def loopback_env(ctx: DiscoveryContext, monkeypatch: pytest.MonkeyPatch) -> DiscoveryContext:
    """The same context through POSTROOM_DISCOVERY_* settings, as an operator would set them,
    for code that reads the settings itself (the CLI, the API, the console)."""
    assert ctx.nameserver is not None
    env = {
        "TIMEOUT": str(ctx.timeout),
        "NAMESERVER": f"{ctx.nameserver[0]}:{ctx.nameserver[1]}",
        "AUTOCONFIG_URL": ctx.autoconfig_url,
        "WELL_KNOWN_URL": ctx.well_known_url,
        "ISPDB_URL": ctx.ispdb_url,
        "AUTODISCOVER_URL": ctx.autodiscover_url,
        "CA_BUNDLE": str(ctx.ca_bundle),
        "PROBE_PORTS": json.dumps(dict(ctx.probe_ports)),
        "ALLOW_PRIVATE": "true" if ctx.allow_private else "false",
    }
    for key, value in env.items():
        monkeypatch.setenv(f"POSTROOM_DISCOVERY_{key}", value)
    return ctx
