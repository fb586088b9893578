"""GET /api/v1/discover over local DNS and HTTPS servers: any signed-in user gets ranked settings
with their sources, bad input is a problem+json naming the field, and no password leaves."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PROBLEM, Api
from tests.discovery.samples import config_xml, imap, smtp
from tests.servers.dns import DnsServer
from tests.servers.web import Reply, WebServer

pytestmark = pytest.mark.usefixtures("loopback_env", "loopback_only")


def test_a_user_finds_the_settings_of_their_address_with_each_source_named(
    ann: Api, web: WebServer, dns_server: DnsServer
) -> None:
    web.routes["/ispdb/v1.1/example.test"] = Reply(
        config_xml("example.test", imap("imap.example.test"), smtp("smtp.example.test"))
    )
    dns_server.add("_imaps._tcp.example.test. 60 IN SRV 0 1 993 imap.example.test.")
    answer = ann.get("/discover", params={"address": "ann@example.test"})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert [(c["source"], c["host"], c["port"]) for c in data["candidates"]] == [
        ("ispdb", "imap.example.test", 993),
        ("ispdb", "smtp.example.test", 465),
    ]
    assert data["best"]["receiving"]["host"] == "imap.example.test"
    assert data["best"]["receiving"]["also_found_by"] == ["srv"]
    assert data["best"]["sending"]["host"] == "smtp.example.test"
    assert {o["source"]: o["status"] for o in data["outcomes"]}["ispdb"] == "found"
    assert web.requests, "discovery asked the local HTTPS server"
    assert all("authorization" not in {k.lower() for k in r.headers} for r in web.requests)


def test_nothing_found_is_an_answer_not_an_error(ann: Api) -> None:
    data = ann.get("/discover", params={"address": "ann@nothing.test"}).json()
    assert data["candidates"] == []
    assert data["best"] == {"receiving": None, "sending": None}


@pytest.mark.parametrize(
    ("address", "words"),
    [("not-an-address", "address"), ("ann@[127.0.0.1]", "IP address for a domain")],
)
def test_a_bad_address_is_a_problem_naming_the_field(ann: Api, address: str, words: str) -> None:
    answer = ann.get("/discover", params={"address": address})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    assert words in answer.json()["detail"]


def test_discovery_needs_a_signed_in_caller(client: TestClient) -> None:
    answer = client.get("/api/v1/discover", params={"address": "ann@example.test"})
    assert answer.status_code == 401
    assert answer.headers["content-type"] == PROBLEM


def test_discovery_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert "address" in {p["name"] for p in paths["/api/v1/discover"]["get"]["parameters"]}
