"""`postroom provider …` and `postroom discover`, run as the console script runs them, with
discovery pointed at loopback through POSTROOM_DISCOVERY_* settings."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Cli
from tests.discovery.samples import config_xml, imap, smtp
from tests.servers.dns import DnsServer
from tests.servers.web import Reply, WebServer


def _json(result: object) -> object:
    assert getattr(result, "code", None) == 0, getattr(result, "stderr", "")
    return json.loads(result.stdout)  # type: ignore[attr-defined]


@pytest.mark.usefixtures("loopback_env")
def test_discover_prints_ranked_candidates_with_their_sources(
    cli: Cli, web: WebServer, dns_server: DnsServer
) -> None:
    web.routes["/ispdb/v1.1/example.test"] = Reply(
        config_xml("example.test", imap("imap.example.test"), smtp("smtp.example.test"))
    )
    dns_server.add("_imaps._tcp.example.test. 60 IN SRV 0 1 993 imap.example.test.")
    data = _json(cli("discover", "ann@example.test", "--json", "--timeout", "2"))
    assert isinstance(data, dict)
    assert [
        (c["source"], c["protocol"], c["host"], c["port"], c["security"])
        for c in data["candidates"]
    ] == [
        ("ispdb", "imap", "imap.example.test", 993, "tls"),
        ("ispdb", "smtp", "smtp.example.test", 465, "tls"),
    ]
    first = data["candidates"][0]
    assert (first["login_format"], first["oauth_provider"], first["also_found_by"]) == (
        "address",
        None,
        ["srv"],
    )
    statuses = {o["source"]: o["status"] for o in data["outcomes"]}
    assert statuses["ispdb"] == "found" and statuses["autoconfig"] == "nothing"
    text = cli("discover", "ann@example.test")
    assert text.code == 0
    assert "ispdb   imap      imap.example.test  993" in text.stdout
    assert "autoconfig   nothing" in text.stdout


@pytest.mark.usefixtures("loopback_env")
def test_provider_commands_change_what_discover_finds_first(cli: Cli) -> None:
    assert (
        cli("server", "add", "corp-imap", "--protocol", "imap", "--host", "imap.corp.test").code
        == 0
    )
    added = _json(
        cli(
            "provider",
            "add",
            "corp",
            "--server",
            "corp-imap",
            "--display-name",
            "Corp",
            "--domain",
            "corp.test",
            "--json",
        )
    )
    assert added == _json(cli("provider", "show", "corp", "--json"))
    assert isinstance(added, dict) and added["added_domains"] == ["corp.test"]
    _json(cli("provider", "add-domain", "fastmail", "fm.corp.test", "--json"))
    listed = _json(cli("provider", "list", "--json"))
    assert isinstance(listed, list)
    by_name = {p["name"]: p for p in listed}
    assert by_name["fastmail"]["added_domains"] == ["fm.corp.test"]
    assert by_name["google"]["kind"] == "built-in" and by_name["corp"]["kind"] == "own"
    found = _json(cli("discover", "ann@fm.corp.test", "--json"))
    assert isinstance(found, dict)
    assert found["candidates"][0]["source"] == "admin"
    assert found["candidates"][0]["host"] == "imap.fastmail.com"
    removed = _json(cli("provider", "remove-domain", "fastmail", "fm.corp.test", "--json"))
    assert isinstance(removed, dict) and removed["added_domains"] == []
    assert "corp.test" in cli("provider", "list").stdout


@pytest.mark.usefixtures("loopback_env")
def test_errors_are_one_line_on_stderr_with_exit_1(cli: Cli) -> None:
    bad = cli("discover", "not-an-address", "--json")
    assert bad.code == 1 and bad.stdout == ""
    assert json.loads(bad.stderr)["error"] == "invalid-input"
    taken = cli("provider", "add-domain", "google", "gmail.com")
    assert taken.code == 1 and taken.stderr.startswith("Error: gmail.com is already one of")
