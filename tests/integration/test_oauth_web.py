"""The web sign-in end to end: the browser (httpx following redirects) goes from postroom's
/oauth/start to the local identity server's authorize page and back to /oauth/callback,
with the state and the PKCE verifier checked on the way."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import HTTPException
from sqlalchemy import Engine, select
from sqlalchemy.pool import QueuePool

from postroom.api import oauth as oauth_routes
from postroom.api.app import create_app
from postroom.services.actors import Actor
from postroom.storage.db import unit_of_work
from postroom.storage.models import OAuthFlow, User
from tests.conftest import Cli
from tests.integration.oauthhelpers import add_apps, add_cloud_servers, ok
from tests.servers.certs import TestCA
from tests.servers.gmail import GmailServer
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer


@dataclass
class Web:
    url: str
    actor: Actor | None = None


@pytest.fixture
def web(cli: Cli, cloud: IdentityServer, engine: Engine) -> Iterator[Web]:
    """postroom's web app on a loopback port; the listening socket exists before the server
    thread starts, so requests simply wait in the backlog until it serves them."""
    ok(cli, "user", "add", "ann@contoso.test", "--password-stdin", input="pw-ann-123456")
    with unit_of_work(engine) as db:
        user_id = db.scalar(select(User.id).where(User.email == "ann@contoso.test"))
    state = Web("", Actor("ann@contoso.test", user_id, False))
    app = create_app(workers=False)

    def acting() -> Actor:
        if state.actor is None:
            raise HTTPException(403, "Sign in to the console to connect a mailbox.")
        return state.actor

    app.dependency_overrides[oauth_routes.acting_user] = acting
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    state.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield state
    server.should_exit = True
    thread.join(10)
    sock.close()


def _browser(test_ca: TestCA) -> httpx.Client:
    return httpx.Client(verify=test_ca.client_ssl_context(), follow_redirects=True, timeout=10)


def test_add_an_office_365_mailbox_from_the_console(
    cli: Cli, web: Web, cloud: IdentityServer, graph: GraphServer, test_ca: TestCA
) -> None:
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    cloud.sign_in_as = "ann@contoso.test"
    with _browser(test_ca) as browser:
        answer = browser.get(web.url + "/oauth/start", params={"provider": "microsoft"})
    assert answer.status_code == 200, answer.text
    mailbox = answer.json()
    assert (mailbox["address"], mailbox["kind"], mailbox["owner"]) == (
        "ann@contoso.test",
        "personal",
        "ann@contoso.test",
    )
    assert (mailbox["incoming"], mailbox["oauth_account"]) == ("graph", "ann@contoso.test")
    code_grant = next(r for r in cloud.token_requests if r["grant_type"] == "authorization_code")
    assert len(code_grant["code_verifier"]) >= 43  # PKCE: the server checked it against S256
    authorize = httpx.URL(answer.history[0].headers["location"]).params
    assert "https://graph.microsoft.com/Mail.ReadWrite" in authorize["scope"].split()
    assert authorize["code_challenge_method"] == "S256"


def test_reconnect_a_gmail_mailbox_and_a_used_state_is_refused(
    cli: Cli,
    web: Web,
    cloud: IdentityServer,
    gmail: GmailServer,
    test_ca: TestCA,
    engine: Engine,
) -> None:
    add_apps(cli)
    add_cloud_servers(cli, None, gmail)
    cloud.sign_in_as = "ann@gmail.test"
    ok(
        cli,
        "mailbox",
        "add",
        "ann@gmail.test",
        "--incoming",
        "gmail",
        "--oauth-app",
        "google",
        "--owner",
        "ann@contoso.test",
    )
    with _browser(test_ca) as browser:
        answer = browser.get(
            web.url + "/oauth/start", params={"provider": "google", "mailbox": "ann@gmail.test"}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["oauth_tokens_set"] is True
        callback = answer.history[-1].headers["location"]
        replay = browser.get(callback)  # the same state and code again
    assert replay.status_code == 400
    assert "already used" in replay.json()["detail"]
    with unit_of_work(engine) as db:
        assert list(db.scalars(select(OAuthFlow))) == []


def test_no_database_connection_waits_while_the_provider_redeems_the_code(
    cli: Cli,
    web: Web,
    cloud: IdentityServer,
    graph: GraphServer,
    test_ca: TestCA,
    engine: Engine,
) -> None:
    """DESIGN invariant 11: the state is used up before the token endpoint is asked, so a
    replay fails at once, and while the provider takes its time nothing else waits."""
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    cloud.sign_in_as = "ann@contoso.test"
    cloud.grant_gate = threading.Event()
    with _browser(test_ca) as browser, ThreadPoolExecutor(max_workers=1) as pool:
        to_provider = browser.get(
            web.url + "/oauth/start", params={"provider": "microsoft"}, follow_redirects=False
        )
        back = browser.get(to_provider.headers["location"], follow_redirects=False)
        callback = back.headers["location"]
        signing_in = pool.submit(browser.get, callback)
        try:
            assert cloud.grant_arrived.wait(30)
            connections = engine.pool
            assert isinstance(connections, QueuePool)
            assert connections.checkedout() == 0, "a connection waits on the token endpoint"
            replay = httpx.get(callback, timeout=10)
            health = httpx.get(web.url + "/health", timeout=10)
            still_waiting = not signing_in.done()
        finally:
            cloud.grant_gate.set()
        answer = signing_in.result(timeout=30)
    assert replay.status_code == 400 and "already used" in replay.json()["detail"]
    assert health.status_code == 200 and still_waiting
    assert answer.status_code == 200, answer.text
    assert (answer.json()["address"], answer.json()["oauth_tokens_set"]) == (
        "ann@contoso.test",
        True,
    )
    assert len([r for r in cloud.token_requests if r["grant_type"] == "authorization_code"]) == 1


def test_signing_in_as_someone_else_is_refused_and_nothing_is_added(
    cli: Cli, web: Web, cloud: IdentityServer, graph: GraphServer, test_ca: TestCA
) -> None:
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    cloud.sign_in_as = "mallory@contoso.test"
    with _browser(test_ca) as browser:
        answer = browser.get(
            web.url + "/oauth/start",
            params={"provider": "microsoft", "mailbox": "ann@contoso.test"},
        )
    assert answer.status_code == 400
    assert "signed in as mallory@contoso.test" in answer.json()["detail"]
    assert ok(cli, "mailbox", "list") == []


def test_without_a_signed_in_user_the_flow_does_not_start(web: Web) -> None:
    web.actor = None  # what the routes see before the console supplies its user
    answer = httpx.get(web.url + "/oauth/start", params={"provider": "microsoft"})
    assert answer.status_code == 403
