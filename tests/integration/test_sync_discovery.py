"""RFC 6764 discovery of an IMAP mailbox's CardDAV and CalDAV service when no DAV URL is given:
SRV and TXT records (answered by a local DNS server) for the mail server's host lead to a real
Radicale over TLS; without them the sync fails on that mailbox only, saying what to give."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dns.resolver
import pytest
from sqlalchemy import Engine

from postroom.services import sync_runs
from tests.conftest import Cli
from tests.discovery.loopback import Guard, dns_server, loopback_only
from tests.integration.mailhelpers import add_server, cli_json
from tests.servers.certs import TestCA
from tests.servers.dns import DnsServer
from tests.servers.radicale import Radicale, radicale_server

__all__ = ["dns_server", "loopback_only"]

USERS = {"ann": "ann-pass-1"}


@pytest.fixture
def radicale_tls(tmp_path: Path, test_ca: TestCA) -> Iterator[Radicale]:
    with radicale_server(tmp_path / "radicale", USERS, tls=test_ca) as server:
        yield server


@pytest.fixture
def local_dns(dns_server: DnsServer, monkeypatch: pytest.MonkeyPatch, test_ca: TestCA) -> DnsServer:
    """The resolver the DAV library asks, pointed at the local DNS server; the test CA trusted
    the way an operator of requests-based clients does."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns_server.host]
    resolver.port = dns_server.port
    monkeypatch.setattr(dns.resolver, "default_resolver", resolver)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(test_ca.ca_bundle_path))
    return dns_server


def _mailbox(cli: Cli) -> str:
    add_server(cli, "in", "imap", 1, "none", "--login-format", "local-part")
    assert cli("server", "edit", "in", "--host", "localhost").code == 0
    added = cli(
        "mailbox",
        "add",
        "ann@example.org",
        "--incoming",
        "in",
        "--password-stdin",
        input="ann-pass-1\n",
    )
    assert added.code == 0, added.stderr
    code, data = cli_json(cli, "mailbox", "edit", "ann@example.org", "--sync", "contacts,calendar")
    assert code == 0 and data["dav_url"] is None
    return "ann@example.org"


def test_srv_and_txt_records_of_the_mail_servers_host_find_the_dav_service(
    cli: Cli, engine: Engine, radicale_tls: Radicale, local_dns: DnsServer, loopback_only: Guard
) -> None:
    port = int(radicale_tls.url.rsplit(":", 1)[1].strip("/"))
    for service in ("carddavs", "caldavs"):
        local_dns.add(f"_{service}._tcp.localhost. 60 IN SRV 0 1 {port} localhost.")
        local_dns.add(f'_{service}._tcp.localhost. 60 IN TXT "path=/ann/"')
    radicale_tls.put(
        "ann",
        "/ann/contacts/uma.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:uma\r\nFN:Uma\r\nN:Uma;;;;\r\n"
        "EMAIL:uma@x.example\r\nEND:VCARD\r\n",
        "text/vcard",
    )
    address = _mailbox(cli)
    runs = sync_runs.sync_once(engine)
    assert [(r.kind, r.ok, r.pulled) for r in runs] == [
        ("contacts", True, 1),
        ("calendar", True, 0),
    ]
    _, rows = cli_json(cli, "contact", "list", "--mailbox", address)
    assert [r["email"] for r in rows] == ["uma@x.example"]
    assert ("_carddavs._tcp.localhost", "SRV") in local_dns.queries


def test_without_records_the_sync_fails_on_that_mailbox_naming_the_dav_url_option(
    cli: Cli, engine: Engine, local_dns: DnsServer, loopback_only: Guard
) -> None:
    _mailbox(cli)
    code, runs = cli_json(cli, "sync", "--once")
    assert code == 1
    assert {(r["kind"], r["failure"]) for r in runs} == {
        ("contacts", "invalid-input"),
        ("calendar", "invalid-input"),
    }
    assert all("--dav-url" in r["error"] for r in runs)
