"""Each source, alone, finds what its kind of publisher says (every server is on loopback)."""

from __future__ import annotations

from postroom.discovery.context import DiscoveryContext
from postroom.discovery.lookup import discover
from postroom.discovery.model import OutcomeStatus, ServerSetting
from postroom.discovery.sources import AdminEntry
from postroom.domain.settings import LoginFormat, OAuthProvider, Protocol, Security
from tests.discovery.helpers import detail, found_by, settings, statuses
from tests.discovery.samples import autodiscover_json, config_xml, imap, smtp
from tests.servers.dns import DnsServer
from tests.servers.web import Reply, WebServer


def test_a_built_in_provider_is_found_by_its_own_domain(ctx: DiscoveryContext) -> None:
    result = discover("ann@gmail.com", ctx)
    assert found_by(result) == {"built-in"}
    first = result.candidates[0]
    assert (first.protocol, first.host, first.oauth_provider) == (
        Protocol.GMAIL,
        "gmail.googleapis.com",
        OAuthProvider.GOOGLE,
    )
    assert ("built-in", "imap", "imap.gmail.com", 993, "tls") in settings(result)
    assert result.best(sending=True) is not None
    assert statuses(result)["autoconfig"] is OutcomeStatus.NOTHING


def test_the_admins_table_is_its_own_source(ctx: DiscoveryContext) -> None:
    entry = AdminEntry("Corp", ServerSetting(Protocol.IMAP, "mail.corp.test", 993, Security.TLS))
    result = discover("ann@corp.test", ctx, admin_entries=[entry])
    assert found_by(result) == {"admin"}
    assert settings(result) == [("admin", "imap", "mail.corp.test", 993, "tls")]
    assert result.candidates[0].provider == "Corp"


def test_autoconfig_on_the_domains_autoconfig_host(ctx: DiscoveryContext, web: WebServer) -> None:
    web.routes["/autoconfig/example.test/mail/config-v1.1.xml"] = Reply(
        config_xml(
            "example.test",
            imap("imap.example.test", username="%EMAILLOCALPART%"),
            smtp("smtp.example.test", 587, "STARTTLS"),
        )
    )
    result = discover("Ann@Example.test", ctx)
    assert found_by(result) == {"autoconfig"}
    assert settings(result) == [
        ("autoconfig", "imap", "imap.example.test", 993, "tls"),
        ("autoconfig", "smtp", "smtp.example.test", 587, "starttls"),
    ]
    assert result.candidates[0].login_format is LoginFormat.LOCAL_PART
    assert result.candidates[0].provider == "Example Mail"
    asked = [r.target for r in web.requests if r.target.startswith("/autoconfig/")]
    assert asked == ["/autoconfig/example.test/mail/config-v1.1.xml?emailaddress=Ann@example.test"]
    assert not any("authorization" in (k.lower() for k in r.headers) for r in web.requests)


def test_autoconfig_on_the_well_known_path(ctx: DiscoveryContext, web: WebServer) -> None:
    web.routes["/wk/example.test/.well-known/autoconfig/mail/config-v1.1.xml"] = Reply(
        config_xml("example.test", imap("mail.example.test", 143, "STARTTLS"))
    )
    result = discover("ann@example.test", ctx)
    assert found_by(result) == {"well-known"}
    assert settings(result) == [("well-known", "imap", "mail.example.test", 143, "starttls")]


def test_the_ispdb(ctx: DiscoveryContext, web: WebServer) -> None:
    web.routes["/ispdb/v1.1/example.test"] = Reply(
        config_xml("example.test", imap("imap.isp.test", auth="OAuth2"), name="ISP")
    )
    result = discover("ann@example.test", ctx)
    assert found_by(result) == {"ispdb"}
    assert settings(result) == [("ispdb", "imap", "imap.isp.test", 993, "tls")]
    assert result.candidates[0].oauth_provider is OAuthProvider.GENERIC


def test_an_mx_at_a_known_provider_gives_its_settings(
    ctx: DiscoveryContext, dns_server: DnsServer
) -> None:
    dns_server.add(
        "example.test. 60 IN MX 20 alt1.aspmx.l.google.com.\n"
        "example.test. 60 IN MX 10 mx.unknown.test."
    )
    result = discover("ann@example.test", ctx)
    assert found_by(result) == {"mx"}
    assert ("mx", "imap", "imap.gmail.com", 993, "tls") in settings(result)
    assert {c.provider for c in result.candidates} == {"Google / Gmail"}
    assert "alt1.aspmx.l.google.com" in result.candidates[0].note


def test_an_mx_for_microsoft_365_is_not_taken_for_outlook_com(
    ctx: DiscoveryContext, dns_server: DnsServer
) -> None:
    dns_server.add("example.test. 60 IN MX 0 example-test.mail.protection.outlook.com.")
    result = discover("ann@example.test", ctx)
    assert {c.provider for c in result.candidates} == {"Microsoft 365"}
    assert ("mx", "smtp", "smtp.office365.com", 587, "starttls") in settings(result)


def test_srv_records_with_implicit_tls_first_and_dot_meaning_not_offered(
    ctx: DiscoveryContext, dns_server: DnsServer
) -> None:
    dns_server.add(
        "_imap._tcp.example.test. 60 IN SRV 0 1 143 imap.example.test.\n"
        "_imaps._tcp.example.test. 60 IN SRV 10 1 993 imap2.example.test.\n"
        "_imaps._tcp.example.test. 60 IN SRV 0 1 993 imap1.example.test.\n"
        "_pop3s._tcp.example.test. 60 IN SRV 0 0 0 .\n"
        "_submission._tcp.example.test. 60 IN SRV 0 1 587 smtp.example.test."
    )
    result = discover("ann@example.test", ctx)
    assert found_by(result) == {"srv"}
    assert settings(result) == [
        ("srv", "imap", "imap1.example.test", 993, "tls"),
        ("srv", "imap", "imap2.example.test", 993, "tls"),
        ("srv", "imap", "imap.example.test", 143, "starttls"),
        ("srv", "smtp", "smtp.example.test", 587, "starttls"),
    ]


def test_autodiscover_naming_exchange_online(ctx: DiscoveryContext, web: WebServer) -> None:
    web.routes["/autodiscover/autodiscover.json"] = Reply(
        autodiscover_json("https://outlook.office365.com/EWS/Exchange.asmx"),
        content_type="application/json",
    )
    result = discover("ann@example.test", ctx)
    assert found_by(result) == {"autodiscover"}
    assert {c.provider for c in result.candidates} == {"Microsoft 365"}
    assert result.candidates[0].oauth_provider is OAuthProvider.MICROSOFT
    asked = [r.target for r in web.requests if r.target.startswith("/autodiscover/")]
    assert asked == ["/autodiscover/autodiscover.json?Email=ann@example.test&Protocol=Ews"]


def test_autodiscover_naming_an_exchange_of_its_own_is_a_guess(
    ctx: DiscoveryContext, web: WebServer
) -> None:
    web.routes["/autodiscover/autodiscover.json"] = Reply(
        autodiscover_json("https://exchange.example.test/EWS/Exchange.asmx")
    )
    result = discover("ann@example.test", ctx)
    assert settings(result) == [
        ("autodiscover", "imap", "exchange.example.test", 993, "tls"),
        ("autodiscover", "smtp", "exchange.example.test", 587, "starttls"),
    ]
    assert all(c.guessed for c in result.candidates)


def test_autodiscover_error_answer_means_nothing_there(
    ctx: DiscoveryContext, web: WebServer
) -> None:
    web.routes["/autodiscover/autodiscover.json"] = Reply(
        b'{"ErrorCode":"InvalidUser","ErrorMessage":"No mailbox"}', status=200
    )
    result = discover("ann@example.test", ctx)
    assert statuses(result)["autodiscover"] is OutcomeStatus.NOTHING
    assert "InvalidUser" in detail(result, "autodiscover")
