"""The probe reads greetings and sends nothing: no guessed host ever receives a login."""

from __future__ import annotations

from dataclasses import replace

from postroom.discovery.context import DiscoveryContext
from postroom.discovery.lookup import discover
from postroom.discovery.model import OutcomeStatus
from tests.discovery.helpers import found_by, settings, statuses
from tests.servers.certs import TestCA
from tests.servers.dns import DnsServer
from tests.servers.greeter import Greeter

IMAP_GREETING = b"* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot ready.\r\n"


def test_the_probe_finds_greeting_servers_and_sends_them_nothing(
    ctx: DiscoveryContext, dns_server: DnsServer, test_ca: TestCA
) -> None:
    dns_server.add(
        "imap.example.test. 60 IN A 127.0.0.1\nsmtp.example.test. 60 IN A 127.0.0.1\n"
        "mail.example.test. 60 IN A 127.0.0.1"
    )
    with (
        Greeter(IMAP_GREETING) as imap,
        Greeter(IMAP_GREETING, tls=test_ca.server_ssl_context()) as imaps,
        Greeter(b"220 mail.example.test ESMTP\r\n") as submission,
        Greeter(b"HTTP/1.1 400 Bad Request\r\n") as stranger,
    ):
        ports = {
            "imap/starttls": imap.port,
            "imap/tls": imaps.port,
            "smtp/starttls": submission.port,
            "pop3/starttls": stranger.port,
        }
        result = discover(
            "ann@example.test", replace(ctx, probe_ports={**ctx.probe_ports, **ports})
        )
    assert found_by(result) == {"probe"}
    assert sorted(settings(result)) == sorted(
        [
            ("probe", "imap", "imap.example.test", imap.port, "starttls"),
            ("probe", "imap", "imap.example.test", imaps.port, "tls"),
            ("probe", "imap", "mail.example.test", imap.port, "starttls"),
            ("probe", "imap", "mail.example.test", imaps.port, "tls"),
            ("probe", "smtp", "mail.example.test", submission.port, "starttls"),
            ("probe", "smtp", "smtp.example.test", submission.port, "starttls"),
        ]
    )
    assert all(c.guessed for c in result.candidates)
    # The test CA's certificate names localhost, not imap.example.test: said, not hidden.
    tls = next(c for c in result.candidates if c.security.value == "tls")
    assert "not valid for imap.example.test" in tls.note
    assert imap.connections >= 2 and submission.connections >= 2
    assert bytes(imap.received + imaps.received + submission.received) == b""
    assert stranger.connections == 1 and bytes(stranger.received) == b""  # pop.example.test: no A


def test_nothing_greeting_means_the_probe_found_nothing(ctx: DiscoveryContext) -> None:
    result = discover("ann@example.test", ctx)
    assert statuses(result)["probe"] is OutcomeStatus.NOTHING
    assert result.candidates == ()
