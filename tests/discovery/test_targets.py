"""Discovery is open to every user, so it must not become a way to look inside the server's
network: loopback, private and link-local targets are skipped unless an administrator allows
them, and the outcome says so."""

from __future__ import annotations

from dataclasses import replace

import pytest

from postroom.discovery import targets
from postroom.discovery.context import DiscoveryContext
from postroom.discovery.lookup import discover
from postroom.discovery.model import OutcomeStatus
from tests.discovery.helpers import detail, found_by, statuses
from tests.discovery.samples import config_xml, imap
from tests.servers.dns import DnsServer
from tests.servers.greeter import Greeter
from tests.servers.web import Reply, WebServer

IMAP_GREETING = b"* OK [CAPABILITY IMAP4rev1] internal service ready.\r\n"


def test_probes_and_downloads_skip_loopback_unless_allowed(
    ctx: DiscoveryContext, dns_server: DnsServer, web: WebServer
) -> None:
    dns_server.add("imap.inside.test. 60 IN A 127.0.0.1")
    web.routes["/autoconfig/inside.test/mail/config-v1.1.xml"] = Reply(
        config_xml("inside.test", imap("imap.inside.test"))
    )
    with Greeter(IMAP_GREETING) as internal:
        ports = {**ctx.probe_ports, "imap/starttls": internal.port}
        closed = replace(ctx, probe_ports=ports, allow_private=False)
        refused = discover("eve@inside.test", closed)
        assert internal.connections == 0
        assert web.requests == []
        allowed = discover("eve@inside.test", replace(closed, allow_private=True))
        assert internal.connections >= 1
    assert refused.candidates == ()
    assert statuses(refused)["probe"] is OutcomeStatus.SKIPPED
    assert detail(refused, "probe").startswith("skipped: private address")
    assert statuses(refused)["autoconfig"] is OutcomeStatus.SKIPPED
    assert "skipped: private address (127.0.0.1 is 127.0.0.1)" in detail(refused, "autoconfig")
    assert "internal service" not in str(refused)
    assert found_by(allowed) == {"autoconfig", "probe"}


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104
        "::1",
        "fe80::1",
        "fd00::5",
        "::ffff:127.0.0.1",
        "not-an-address",
    ],
)
def test_internal_addresses_are_recognised(address: str) -> None:
    assert targets.forbidden(address)


def test_public_addresses_are_reachable() -> None:
    assert not targets.forbidden("93.184.216.34")
    assert not targets.forbidden("2606:2800:220:1:248:1893:25c7:1946")
