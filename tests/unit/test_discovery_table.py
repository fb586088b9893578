"""The built-in provider table and the pure parts of discovery: ranking and the XML reader."""

from __future__ import annotations

import pytest

from postroom.discovery import autoconfig_xml, providers
from postroom.discovery.model import Candidate, SourceFailed
from postroom.discovery.rank import rank
from postroom.discovery.sources import ORDER
from postroom.domain import validate
from postroom.domain.settings import LoginFormat, OAuthProvider, Protocol, Security
from tests.discovery.samples import config_xml, imap, smtp

EXPECTED_KEYS = {
    "google", "microsoft365", "outlook", "yahoo", "yahoo-japan", "aol", "icloud", "fastmail",
    "zoho", "gmx", "yandex", "mail-ru", "proton",
}  # fmt: skip


def test_the_table_holds_the_major_providers_with_valid_settings() -> None:
    assert set(providers.BY_KEY) >= EXPECTED_KEYS
    for provider in providers.BUILT_IN:
        assert provider.servers, provider.key
        assert any(s.protocol.receives for s in provider.servers), provider.key
        assert any(s.protocol.sends for s in provider.servers), provider.key
        for setting in provider.servers:
            assert validate.hostname(setting.host) == setting.host
            assert validate.port(setting.port) == setting.port


def test_no_domain_belongs_to_two_built_in_providers() -> None:
    domains = [d for p in providers.BUILT_IN for d in p.domains]
    assert len(domains) == len(set(domains))
    assert all(d == d.lower() for d in domains)


@pytest.mark.parametrize(
    ("domain", "key", "oauth"),
    [
        ("gmail.com", "google", OAuthProvider.GOOGLE),
        ("HOTMAIL.com", "outlook", OAuthProvider.MICROSOFT),
        ("yahoo.co.jp", "yahoo-japan", None),
        ("me.com", "icloud", None),
        ("pm.me", "proton", None),
    ],
)
def test_domains_map_to_their_provider(domain: str, key: str, oauth: OAuthProvider | None) -> None:
    provider = providers.for_domain(domain)
    assert provider is not None and provider.key == key and provider.oauth == oauth


def test_only_microsoft_and_google_offer_their_apis() -> None:
    for provider in providers.BUILT_IN:
        apis = {s.protocol for s in provider.servers} & {Protocol.GRAPH, Protocol.GMAIL}
        if provider.oauth is OAuthProvider.MICROSOFT:
            assert apis == {Protocol.GRAPH}
        elif provider.oauth is OAuthProvider.GOOGLE:
            assert apis == {Protocol.GMAIL}
        else:
            assert apis == set()


def test_icloud_signs_in_to_imap_with_the_local_part() -> None:
    icloud = providers.BY_KEY["icloud"]
    logins = {s.protocol: s.login_format for s in icloud.servers}
    assert logins == {Protocol.IMAP: LoginFormat.LOCAL_PART, Protocol.SMTP: LoginFormat.ADDRESS}


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("aspmx.l.google.com", "google"),
        ("ALT2.ASPMX.L.GOOGLE.COM.", "google"),
        ("contoso-com.mail.protection.outlook.com", "microsoft365"),
        ("hotmail-com.olc.protection.outlook.com", "outlook"),
        ("in1-smtp.messagingengine.com", "fastmail"),
        ("mx.yandex.net", "yandex"),
        ("notgoogle.com", None),
        ("google.com.evil.test", None),
    ],
)
def test_mx_hosts_map_to_a_provider_by_the_longest_suffix(host: str, key: str | None) -> None:
    provider = providers.for_host(host)
    assert (provider.key if provider else None) == key


def _candidate(source: str, host: str, guessed: bool = False) -> Candidate:
    return Candidate(
        Protocol.IMAP, host, 993, Security.TLS, LoginFormat.ADDRESS, None, source, guessed=guessed
    )


def test_ranking_follows_the_source_order_not_the_order_answers_arrived() -> None:
    found = {
        "probe": [_candidate("probe", "p.test", guessed=True)],
        "srv": [_candidate("srv", "s.test")],
        "admin": [_candidate("admin", "a.test")],
        "ispdb": [_candidate("ispdb", "i.test"), _candidate("ispdb", "j.test")],
    }
    assert [c.host for c in rank(found, ORDER)] == [
        "a.test",
        "i.test",
        "j.test",
        "s.test",
        "p.test",
    ]


def test_a_duplicate_keeps_the_higher_source_and_names_the_others() -> None:
    found = {
        "probe": [_candidate("probe", "x.test", guessed=True)],
        "srv": [_candidate("srv", "x.test")],
        "autodiscover": [_candidate("autodiscover", "x.test", guessed=True)],
    }
    (only,) = rank(found, ORDER)
    assert (only.source, only.also_found_by, only.guessed) == (
        "srv",
        ("autodiscover", "probe"),
        False,
    )


def test_a_guess_confirmed_by_another_guess_stays_a_guess() -> None:
    found = {
        "autodiscover": [_candidate("autodiscover", "x.test", guessed=True)],
        "probe": [_candidate("probe", "x.test", guessed=True)],
    }
    (only,) = rank(found, ORDER)
    assert only.guessed and only.also_found_by == ("probe",)


def test_an_unknown_source_ranks_last() -> None:
    found = {"plugin": [_candidate("plugin", "z.test")], "probe": [_candidate("probe", "p.test")]}
    assert [c.source for c in rank(found, ORDER)] == ["probe", "plugin"]


def test_the_xml_reader_fills_login_format_oauth_and_domain_placeholders() -> None:
    data = config_xml(
        "example.test",
        imap("imap.%EMAILDOMAIN%", username="%EMAILLOCALPART%"),
        imap("imap.%EMAILDOMAIN%", auth="OAuth2", username="%EMAILLOCALPART%"),
        smtp("smtp.gmail.com", auth="OAuth2"),
        smtp("smtp.example.test", 587, "STARTTLS", username="staff\\%EMAILLOCALPART%"),
        ("incomingServer", "exchange", "ews.example.test", 443, "SSL", "x", "NTLM"),
    )
    found = autoconfig_xml.parse(data, "ann@example.test", "autoconfig")
    assert [(c.protocol, c.host, c.login_format, c.oauth_provider) for c in found] == [
        (Protocol.IMAP, "imap.example.test", LoginFormat.LOCAL_PART, OAuthProvider.GENERIC),
        (Protocol.SMTP, "smtp.gmail.com", LoginFormat.ADDRESS, OAuthProvider.GOOGLE),
        (Protocol.SMTP, "smtp.example.test", LoginFormat.CUSTOM, None),
    ]
    assert found[2].note == "sign in as staff\\ann"


def test_an_unknown_socket_type_is_reported() -> None:
    data = config_xml("example.test", imap("imap.example.test", socket_type="QUANTUM"))
    with pytest.raises(SourceFailed, match="socketType 'QUANTUM'"):
        autoconfig_xml.parse(data, "ann@example.test", "autoconfig")
