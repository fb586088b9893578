"""Ranking, contradictions, and answers that are malformed, hostile or slow: each handled with
an outcome that says what happened, while the other sources still answer."""

from __future__ import annotations

from dataclasses import replace

import pytest

from postroom.discovery.context import DiscoveryContext
from postroom.discovery.lookup import discover
from postroom.discovery.model import OutcomeStatus, ServerSetting
from postroom.discovery.sources import ORDER, AdminEntry
from postroom.domain.settings import Protocol, Security
from postroom.errors import InvalidInput
from tests.discovery.helpers import detail, found_by, settings, statuses
from tests.discovery.loopback import Guard, LeftLoopback
from tests.discovery.samples import (
    BILLION_LAUGHS,
    autodiscover_json,
    config_xml,
    external_entity,
    imap,
)
from tests.servers.dns import DnsServer
from tests.servers.greeter import Greeter
from tests.servers.web import Reply, WebServer

AUTOCONFIG = "/autoconfig/example.test/mail/config-v1.1.xml"
ISPDB = "/ispdb/v1.1/example.test"


def _publish_everywhere(web: WebServer, dns_server: DnsServer) -> None:
    """Every source but the built-in table answers for example.test, each with its own host."""
    web.routes[AUTOCONFIG] = Reply(config_xml("example.test", imap("ac.example.test")))
    web.routes["/wk/example.test/.well-known/autoconfig/mail/config-v1.1.xml"] = Reply(
        config_xml("example.test", imap("wk.example.test"))
    )
    web.routes[ISPDB] = Reply(config_xml("example.test", imap("isp.example.test")))
    web.routes["/autodiscover/autodiscover.json"] = Reply(
        autodiscover_json("https://ex.example.test/EWS/Exchange.asmx")
    )
    dns_server.add(
        "example.test. 60 IN MX 10 mx.messagingengine.com.\n"
        "_imaps._tcp.example.test. 60 IN SRV 0 1 993 srv.example.test.\n"
        "imap.example.test. 60 IN A 127.0.0.1"
    )


def test_sources_rank_admin_built_in_autoconfig_ispdb_mx_srv_autodiscover_probe(
    ctx: DiscoveryContext, web: WebServer, dns_server: DnsServer
) -> None:
    _publish_everywhere(web, dns_server)
    admin = AdminEntry("Own", ServerSetting(Protocol.IMAP, "own.example.test", 993, Security.TLS))
    with Greeter(b"* OK hello\r\n") as greeter:
        probing = replace(ctx, probe_ports={**ctx.probe_ports, "imap/starttls": greeter.port})
        result = discover("ann@example.test", probing, admin_entries=[admin])
    first_imap_per_source: dict[str, str] = {}
    for c in result.candidates:
        if c.protocol is Protocol.IMAP:
            first_imap_per_source.setdefault(c.source, c.host)
    assert list(first_imap_per_source.items()) == [
        ("admin", "own.example.test"),
        ("autoconfig", "ac.example.test"),
        ("well-known", "wk.example.test"),
        ("ispdb", "isp.example.test"),
        ("mx", "imap.fastmail.com"),
        ("srv", "srv.example.test"),
        ("autodiscover", "ex.example.test"),
        ("probe", "imap.example.test"),
    ]
    assert [s for s in ORDER if s in found_by(result)] == [s for s in ORDER if s != "built-in"]
    assert result.best(sending=False) is not None
    assert result.best(sending=False).host == "own.example.test"  # type: ignore[union-attr]


def test_contradictory_answers_are_both_shown_ranked_and_named(
    ctx: DiscoveryContext, web: WebServer
) -> None:
    web.routes[AUTOCONFIG] = Reply(config_xml("example.test", imap("imap.a.test")))
    web.routes[ISPDB] = Reply(config_xml("example.test", imap("imap.b.test", 143, "STARTTLS")))
    result = discover("ann@example.test", ctx)
    assert settings(result) == [
        ("autoconfig", "imap", "imap.a.test", 993, "tls"),
        ("ispdb", "imap", "imap.b.test", 143, "starttls"),
    ]


def test_agreeing_answers_become_one_candidate_naming_every_source(
    ctx: DiscoveryContext, web: WebServer, dns_server: DnsServer
) -> None:
    web.routes[ISPDB] = Reply(config_xml("example.test", imap("imap.example.test")))
    dns_server.add("_imaps._tcp.example.test. 60 IN SRV 0 1 993 imap.example.test.")
    result = discover("ann@example.test", ctx)
    assert settings(result) == [("ispdb", "imap", "imap.example.test", 993, "tls")]
    assert result.candidates[0].also_found_by == ("srv",)


def test_malformed_xml_fails_that_source_only(ctx: DiscoveryContext, web: WebServer) -> None:
    web.routes[AUTOCONFIG] = Reply(b"<clientConfig><emailProvider><incomingServer>")
    web.routes[ISPDB] = Reply(config_xml("example.test", imap("imap.example.test")))
    result = discover("ann@example.test", ctx)
    assert statuses(result)["autoconfig"] is OutcomeStatus.FAILED
    assert "not well-formed XML" in detail(result, "autoconfig")
    assert found_by(result) == {"ispdb"}


@pytest.mark.parametrize(
    ("body", "not_a"),
    [
        (b"<html><body>Welcome to nginx</body></html>", "not an autoconfig file"),
        (config_xml("example.test", imap("bad host name!")), "no usable server"),
        (config_xml("example.test", imap("imap.example.test", port=0)), "no usable server"),
    ],
)
def test_well_formed_but_wrong_xml_says_what_is_wrong(
    ctx: DiscoveryContext, web: WebServer, body: bytes, not_a: str
) -> None:
    web.routes[AUTOCONFIG] = Reply(body)
    result = discover("ann@example.test", ctx)
    assert statuses(result)["autoconfig"] is OutcomeStatus.FAILED
    assert not_a in detail(result, "autoconfig")


def test_billion_laughs_is_refused_cleanly(ctx: DiscoveryContext, web: WebServer) -> None:
    web.routes[AUTOCONFIG] = Reply(BILLION_LAUGHS)
    result = discover("ann@example.test", ctx)
    assert statuses(result)["autoconfig"] is OutcomeStatus.FAILED
    assert "refused a hostile XML answer" in detail(result, "autoconfig")


def test_an_external_entity_is_refused_and_never_fetched(
    ctx: DiscoveryContext, web: WebServer
) -> None:
    web.routes[AUTOCONFIG] = Reply(external_entity(web.base_url + "/leak"))
    web.routes["/leak"] = Reply(b"imap.attacker.test")
    result = discover("ann@example.test", ctx)
    assert "refused a hostile XML answer" in detail(result, "autoconfig")
    assert result.candidates == ()
    assert not any(r.target.startswith("/leak") for r in web.requests)


def test_a_slow_answer_times_out_and_the_others_still_answer(
    ctx: DiscoveryContext, web: WebServer, dns_server: DnsServer
) -> None:
    web.routes[AUTOCONFIG] = Reply(config_xml("example.test", imap("late.test")), hold=None)
    web.routes[AUTOCONFIG].hold = dns_server.hold("example.test")  # MX is held as well
    web.routes[ISPDB] = Reply(config_xml("example.test", imap("imap.example.test")))
    result = discover("ann@example.test", replace(ctx, timeout=0.5))
    assert statuses(result)["autoconfig"] is OutcomeStatus.TIMED_OUT
    assert statuses(result)["mx"] is OutcomeStatus.TIMED_OUT
    assert "0.5 s" in detail(result, "autoconfig")
    assert settings(result) == [("ispdb", "imap", "imap.example.test", 993, "tls")]


def test_an_http_error_status_fails_the_source_with_the_status(
    ctx: DiscoveryContext, web: WebServer
) -> None:
    web.routes[ISPDB] = Reply(b"oops", status=503)
    result = discover("ann@example.test", ctx)
    assert statuses(result)["ispdb"] is OutcomeStatus.FAILED
    assert "HTTP 503" in detail(result, "ispdb")


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("ann", "needs one @"),
        ("ann@", "needs one @"),
        ("Ann <ann@example.test>", "cannot hold"),
        ("ann@exa mple.test", "not a valid host name"),
        ("ann@[127.0.0.1]", "needs a domain name"),
    ],
)
def test_a_bad_address_is_refused_before_any_traffic(
    ctx: DiscoveryContext, web: WebServer, dns_server: DnsServer, address: str, says: str
) -> None:
    with pytest.raises(InvalidInput, match=says):
        discover(address, ctx)
    assert web.requests == [] and dns_server.queries == []


def test_the_guard_catches_any_use_of_the_system_resolver(loopback_only: Guard) -> None:
    with pytest.raises(LeftLoopback, match="resolver"):
        DiscoveryContext().resolver()  # production's default: the machine's resolv.conf
    assert loopback_only.violations == ["the system resolver's configuration was read"]
    loopback_only.violations.clear()
