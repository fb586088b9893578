"""OAuth2 sign-in and tokens against the local identity server: device flow, account match,
app-only access, rotation, refresh serialised per mailbox, and a refused grant that touches
only its own mailbox."""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.pool import QueuePool

from postroom.config import get_settings
from postroom.connectors.oauth2 import ClientConfig, OAuthClient, ProviderUrls
from postroom.errors import NeedsReconnect
from postroom.services import tokens
from postroom.storage.db import unit_of_work
from postroom.storage.models import AuditEntry, Mailbox, OutboxItem
from postroom.workers.scheduler import Scheduler
from tests.cloud_fixtures import CLIENT_ID, CLIENT_SECRET
from tests.conftest import Cli
from tests.integration.oauthhelpers import add_apps, add_cloud_servers, connect, ok
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer


def _mailbox_id(engine: Engine, address: str) -> int:
    with unit_of_work(engine) as db:
        found = db.scalar(select(Mailbox.id).where(Mailbox.address == address))
        assert found is not None
        return found


def test_device_flow_adds_a_graph_mailbox_named_by_the_signed_in_account(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    cloud.device_pending_polls = 2
    data = connect(cli, cloud, "desk@contoso.test")
    assert data["oauth_account"] == "desk@contoso.test"
    assert (data["incoming"], data["outgoing"], data["oauth_tokens_set"]) == (
        "graph",
        "graph",
        True,
    )
    grants = [r["grant_type"] for r in cloud.token_requests]
    assert grants.count("urn:ietf:params:oauth:grant-type:device_code") == 3
    shown = json.dumps(ok(cli, "mailbox", "show", "desk@contoso.test"))
    assert "at-" not in shown and "rt-" not in shown  # tokens never leave the process


def test_signing_in_with_another_account_is_refused(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    connect(cli, cloud, "desk@contoso.test")
    cloud.sign_in_as = "mallory@contoso.test"
    result = cli("mailbox", "connect", "desk@contoso.test", "--oauth-app", "m365")
    assert result.code == 1
    assert "signed in as mallory@contoso.test" in result.stderr
    assert ok(cli, "mailbox", "show", "desk@contoso.test")["oauth_account"] == "desk@contoso.test"


def test_device_flow_backs_off_on_slow_down_and_stops_when_the_code_expires(
    cloud: IdentityServer,
) -> None:
    urls = ProviderUrls(
        "",
        cloud.base_url + "/contoso/oauth2/v2.0/token",
        cloud.base_url + "/contoso/oauth2/v2.0/devicecode",
    )
    config = ClientConfig(urls, CLIENT_ID, CLIENT_SECRET, "openid email offline_access")
    cloud.device_interval, cloud.device_slow_down_polls, cloud.device_pending_polls = 1, 1, 1
    waits: list[float] = []
    with OAuthClient(config) as client:
        granted = client.wait_for_device(client.start_device(), sleep=waits.append)
        assert granted.account == cloud.sign_in_as
        assert waits == [6, 6]  # the interval, plus five seconds after slow_down (RFC 8628)
        device = client.start_device()
        cloud.expire_device_codes()
        with pytest.raises(Exception, match="expired"):
            client.wait_for_device(device, sleep=waits.append)


def test_a_rotated_refresh_token_is_saved_and_the_next_renewal_uses_it(
    cli: Cli,
    cloud: IdentityServer,
    graph: GraphServer,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    connect(cli, cloud, "desk@contoso.test")
    monkeypatch.setenv("POSTROOM_OAUTH_REFRESH_AHEAD", str(10 * 3600))  # every token is due
    get_settings.cache_clear()
    assert tokens.renew_due(engine) == 1
    assert tokens.renew_due(engine) == 1  # Microsoft spent the first refresh token: a lost
    assert cloud.refresh_calls == 2  # rotation would make this one invalid_grant
    assert ok(cli, "mailbox", "show", "desk@contoso.test")["state"] == "new"


def test_app_only_access_for_a_system_mailbox_uses_client_credentials(
    cli: Cli, cloud: IdentityServer, graph: GraphServer, engine: Engine
) -> None:
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    ok(cli, "mailbox", "add", "robot@contoso.test", "--incoming", "graph", "--oauth-app", "m365")
    ok(cli, "mailbox", "connect", "robot@contoso.test", "--oauth-app", "m365", "--app-only")
    assert [r["grant_type"] for r in cloud.token_requests] == ["client_credentials"]
    assert cloud.token_requests[0]["scope"] == "https://graph.microsoft.com/.default"
    token = tokens.access_token(engine, _mailbox_id(engine, "robot@contoso.test"))
    grant = cloud.account_of(token)
    assert grant is not None and grant.account is None  # the app's own access, no person


def test_no_database_connection_waits_while_the_provider_grants_app_only_access(
    cli: Cli, cloud: IdentityServer, graph: GraphServer, engine: Engine
) -> None:
    """DESIGN invariant 11 for `mailbox connect --app-only`: check, ask, then store."""
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    ok(cli, "mailbox", "add", "robot@contoso.test", "--incoming", "graph", "--oauth-app", "m365")
    cloud.grant_gate = threading.Event()
    args = ("mailbox", "connect", "robot@contoso.test", "--oauth-app", "m365", "--app-only")
    with ThreadPoolExecutor(max_workers=1) as pool:
        connecting = pool.submit(ok, cli, *args)
        try:
            assert cloud.grant_arrived.wait(30)
            connections = engine.pool
            assert isinstance(connections, QueuePool)
            assert connections.checkedout() == 0, "a connection waits on the token endpoint"
        finally:
            cloud.grant_gate.set()
        assert connecting.result(timeout=60)["oauth_tokens_set"] is True


def test_a_refused_grant_marks_only_that_mailbox_and_tells_its_owner(
    cli: Cli,
    cloud: IdentityServer,
    graph: GraphServer,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    ok(cli, "user", "add", "ann@contoso.test", "--password-stdin", input="pw-ann-123456")
    ok(
        cli,
        "server",
        "add",
        "relay",
        "--protocol",
        "smtp",
        "--host",
        "127.0.0.1",
        "--security",
        "none",
        "--port",
        "2525",
    )
    ok(
        cli,
        "mailbox",
        "add",
        "noreply@contoso.test",
        "--outgoing",
        "relay",
        "--password-stdin",
        input="pw",
    )
    ok(
        cli,
        "connection",
        "add",
        "system",
        "--mailbox",
        "noreply@contoso.test",
        "--security",
        "none",
    )
    connect(cli, cloud, "ann@contoso.test", "m365", "--owner", "ann@contoso.test")
    connect(cli, cloud, "desk@contoso.test")
    cloud.revoke("ann@contoso.test")
    monkeypatch.setenv("POSTROOM_OAUTH_REFRESH_AHEAD", str(10 * 3600))
    get_settings.cache_clear()
    assert tokens.renew_due(engine) == 1  # desk renewed; ann refused
    states = {m["address"]: m["state"] for m in ok(cli, "mailbox", "list")}
    assert states["ann@contoso.test"] == "needs-reconnect"
    assert states["desk@contoso.test"] == "new"
    with unit_of_work(engine) as db:
        entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "mailbox.needs-reconnect"))
        assert entry is not None and entry.target == "ann@contoso.test"
        notices = list(db.scalars(select(OutboxItem)))
        assert [[r.address for r in n.recipients] for n in notices] == [["ann@contoso.test"]]
        assert "Reconnect ann@contoso.test" in notices[0].subject
    with pytest.raises(NeedsReconnect):  # never a fall-back to a password
        tokens.access_token(engine, _mailbox_id(engine, "ann@contoso.test"))
    assert tokens.renew_due(engine) == 1  # a marked mailbox is not retried or told twice
    with unit_of_work(engine) as db:
        assert len(list(db.scalars(select(OutboxItem)))) == 1


class _Seen(logging.Handler):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text, self.event = text, threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


def test_concurrent_renewals_of_one_mailbox_make_one_refresh_call(
    database_url: str, cli: Cli, cloud: IdentityServer, graph: GraphServer, engine: Engine
) -> None:
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    connect(cli, cloud, "desk@contoso.test")
    mailbox_id = _mailbox_id(engine, "desk@contoso.test")
    stale = tokens.access_token(engine, mailbox_id)
    cloud.refresh_gate = threading.Event()
    seen = _Seen("waiting for another renewal")
    logging.getLogger("postroom.services.tokens").addHandler(seen)
    logging.getLogger("postroom.services.tokens").setLevel(logging.INFO)
    results: list[str] = []

    def renew() -> None:
        results.append(tokens.access_token(engine, mailbox_id, rejected=stale))

    first, second = threading.Thread(target=renew), threading.Thread(target=renew)
    try:
        first.start()
        assert cloud.refresh_arrived.wait(10)  # the first holds the lock, mid-refresh
        second.start()
        assert seen.event.wait(10)  # the second found the mailbox locked and waits
        cloud.refresh_gate.set()
        first.join(10)
        second.join(10)
    finally:
        logging.getLogger("postroom.services.tokens").removeHandler(seen)
    assert cloud.refresh_calls == 1
    assert len(results) == 2 and results[0] == results[1] != stale


def test_the_scheduler_renews_tokens_ahead_of_expiry(
    cli: Cli,
    cloud: IdentityServer,
    graph: GraphServer,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    ok(cli, "mailbox", "add", "out@contoso.test", "--outgoing", "graph", "--oauth-app", "m365")
    connect(cli, cloud, "out@contoso.test")
    before = tokens.access_token(engine, _mailbox_id(engine, "out@contoso.test"))
    monkeypatch.setenv("POSTROOM_OAUTH_REFRESH_AHEAD", str(10 * 3600))
    get_settings.cache_clear()
    scheduler = Scheduler(engine, idle=False)
    scheduler.start()
    try:
        assert cloud.refresh_arrived.wait(10)
    finally:
        scheduler.stop()
    monkeypatch.setenv("POSTROOM_OAUTH_REFRESH_AHEAD", "0")
    get_settings.cache_clear()
    assert tokens.access_token(engine, _mailbox_id(engine, "out@contoso.test")) != before


def test_access_and_refresh_tokens_never_leave_the_process_nor_rest_in_clear(
    cli: Cli,
    cloud: IdentityServer,
    graph: GraphServer,
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
    postroom_env: Path,
) -> None:
    """Sign in, fetch, renew and show, logging at DEBUG: no token issued by the identity
    server appears in any output, any log line, or the database file's bytes."""
    caplog.set_level(logging.DEBUG)
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    outputs = [json.dumps(connect(cli, cloud, "desk@contoso.test"))]
    mailbox_id = _mailbox_id(engine, "desk@contoso.test")
    first = next(iter(cloud.tokens))
    assert tokens.access_token(engine, mailbox_id, rejected=first) != first  # renewed, rotated
    for command in (("mailbox", "show", "desk@contoso.test"), ("mailbox", "list"), ("audit",)):
        outputs.append(json.dumps(ok(cli, *command)))
    outputs.append(cli("fetch", "--once").stdout)
    issued = [*cloud.tokens, *cloud.refresh_tokens, *cloud.issued_refresh_tokens]
    assert len(issued) >= 4
    stored = b"".join(p.read_bytes() for p in postroom_env.glob("postroom.db*"))
    assert b"desk@contoso.test" in stored  # the right file: the mailbox is in it, sealed tokens too
    for secret in issued:
        assert secret not in caplog.text
        assert all(secret not in text for text in outputs)
        assert secret.encode() not in stored
