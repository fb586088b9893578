"""The local identity, Graph and Gmail servers answer as the documentation says; the product
tests rely on that, so the servers' own behaviour is pinned here."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import httpx
import pytest

from tests.servers.certs import TestCA
from tests.servers.gmail import GmailServer
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer


@pytest.fixture
def identity(test_ca: TestCA) -> Iterator[IdentityServer]:
    with IdentityServer(test_ca) as server:
        server.register("app-1", "s3cret")
        yield server


def _client(ca: TestCA) -> httpx.Client:
    return httpx.Client(verify=ca.client_ssl_context())


def test_pkce_code_is_refused_without_the_matching_verifier(
    identity: IdentityServer, test_ca: TestCA
) -> None:
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    with _client(test_ca) as http:
        answer = http.get(
            identity.base_url + "/common/oauth2/v2.0/authorize",
            params={
                "client_id": "app-1",
                "response_type": "code",
                "redirect_uri": "http://127.0.0.1:1/cb",
                "scope": "offline_access",
                "state": "st",
                "code_challenge": challenge.rstrip(b"=").decode(),
                "code_challenge_method": "S256",
            },
        )
        code = httpx.URL(answer.headers["location"]).params["code"]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": "app-1",
            "client_secret": "s3cret",
            "redirect_uri": "http://127.0.0.1:1/cb",
            "code_verifier": "w" * 50,
        }
        token_url = identity.base_url + "/common/oauth2/v2.0/token"
        refused = http.post(token_url, data=form)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"


def test_graph_delta_pages_then_gives_a_delta_link(
    identity: IdentityServer, test_ca: TestCA
) -> None:
    with GraphServer(identity, test_ca, page_size=2) as graph, _client(test_ca) as http:
        graph.deliver("desk@contoso.test", [b"Subject: %d\r\n\r\nx" % i for i in range(5)])
        token = identity.issue("desk@contoso.test", "app-1", "Mail.ReadWrite")
        url = graph.base_url + "/v1.0/me/mailFolders/inbox/messages/delta"
        ids, pages = [], 0
        while True:
            page = http.get(url, headers={"Authorization": f"Bearer {token}"}).json()
            pages += 1
            ids += [item["id"] for item in page["value"]]
            if "@odata.nextLink" not in page:
                break
            url = page["@odata.nextLink"]
        assert (len(ids), pages) == (5, 3)
        again = http.get(page["@odata.deltaLink"], headers={"Authorization": f"Bearer {token}"})
        assert again.json()["value"] == []
        identity.expire_access_tokens()
        expired = http.get(page["@odata.deltaLink"], headers={"Authorization": f"Bearer {token}"})
        assert expired.status_code == 401


def test_gmail_history_older_than_kept_is_404(identity: IdentityServer, test_ca: TestCA) -> None:
    with GmailServer(identity, test_ca) as gmail, _client(test_ca) as http:
        token = identity.issue("ann@gmail.test", "app-1", "https://mail.google.com/")
        headers = {"Authorization": f"Bearer {token}"}
        start = http.get(gmail.base_url + "/gmail/v1/users/me/profile", headers=headers)
        history_id = start.json()["historyId"]
        gmail.deliver("ann@gmail.test", [b"Subject: hi\r\n\r\nx"])
        url = gmail.base_url + "/gmail/v1/users/me/history"
        found = http.get(url, params={"startHistoryId": history_id}, headers=headers).json()
        assert len(found["history"]) == 1
        gmail.forget_history()
        gone = http.get(url, params={"startHistoryId": history_id}, headers=headers)
        assert gone.status_code == 404
