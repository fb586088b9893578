"""Push from Microsoft 365 and Gmail, against the local Graph, Gmail and identity servers,
which notify postroom (served by uvicorn on loopback) as the providers do: a notification
wakes the mailbox and the request is opened without waiting for a poll; subscriptions are
made with Graph's handshake, renewed before expiry, remade when removed; a missed
notification is recovered; a wrong clientState or a forged Google token changes nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from sqlalchemy import Engine, select

from postroom.api.app import create_app
from postroom.config import get_settings
from postroom.services import push
from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox, PushSubscription, utcnow
from postroom.workers.scheduler import Scheduler
from tests.conftest import Cli
from tests.integration import test_gmail, test_graph
from tests.integration.oauthhelpers import ok
from tests.integration.test_scheduler import Runs
from tests.mailfactory import email_from
from tests.servers.gmail import GmailServer
from tests.servers.graph import MAX_MINUTES, GraphServer
from tests.servers.identity import IdentityServer
from tests.servers.ports import free_port

DESK, ANN = test_graph.DESK, test_gmail.ANN
TOPIC = "projects/project-1/topics/gmail"
ACCOUNT = "gmail-push@project-1.iam.gserviceaccount.com"


@dataclass
class Live:
    url: str
    app: FastAPI


@pytest.fixture
def live(cloud: IdentityServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    """postroom's web app on a loopback port, reachable as its public URL; no workers (each
    test starts its own scheduler when it wants fetching)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("POSTROOM_PUBLIC_URL", url)
    monkeypatch.setenv("POSTROOM_GMAIL_PUSH_TOPIC", TOPIC)
    monkeypatch.setenv("POSTROOM_GMAIL_PUSH_ACCOUNT", ACCOUNT)
    monkeypatch.setenv("POSTROOM_GOOGLE_JWKS_URL", cloud.jwks_url)
    get_settings.cache_clear()
    app = create_app(workers=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        thread.join(0.01)
    yield Live(url, app)
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def start_worker(engine: Engine, live: Live) -> Iterator[Any]:
    started: list[Scheduler] = []

    def start() -> Runs:
        runs = Runs()
        scheduler = Scheduler(engine, workers=2, idle=False, on_run=runs)
        live.app.state.scheduler = scheduler  # as `postroom serve` does
        scheduler.start()
        started.append(scheduler)
        return runs

    yield start
    for scheduler in started:
        scheduler.stop()


def _row(engine: Engine, address: str) -> PushSubscription:
    with unit_of_work(engine) as db:
        mailbox_id = db.scalar(select(Mailbox.id).where(Mailbox.address == address))
        row = db.scalar(select(PushSubscription).where(PushSubscription.mailbox_id == mailbox_id))
        assert row is not None
        db.expunge(row)
        return row


def _next_poll(engine: Engine, address: str) -> datetime | None:
    with unit_of_work(engine) as db:
        return db.scalar(select(Mailbox.next_poll_at).where(Mailbox.address == address))


def _graph_desk(cli: Cli, cloud: IdentityServer, graph: GraphServer) -> None:
    test_graph._desk(cli, cloud, graph, "--poll-interval", "3600")  # a poll would come too late


def _gmail_desk(cli: Cli, cloud: IdentityServer, gmail: GmailServer, live: Live) -> None:
    gmail.push_url = live.url + push.GMAIL_PATH  # the Pub/Sub push subscription's endpoint
    test_gmail._desk(cli, cloud, gmail, "--poll-interval", "3600")


def _opened(cli: Cli) -> int:
    return len(ok(cli, "request", "list", "--limit", "0"))


# ---------------------------------------------------------------------------- Graph


def test_graph_subscription_is_made_with_the_handshake_and_a_bounded_expiry(
    cli: Cli, cloud: IdentityServer, graph: GraphServer, live: Live, engine: Engine
) -> None:
    _graph_desk(cli, cloud, graph)
    push.keep_up(engine)
    (subscription,) = graph.subscriptions.values()
    assert graph.validations and all(status == 200 for _, status in graph.validations)
    assert subscription.notification_url == live.url + push.GRAPH_PATH
    assert subscription.folder == "inbox" and subscription.user == DESK
    assert subscription.expires <= datetime.now(UTC) + timedelta(minutes=MAX_MINUTES)
    assert subscription.client_state == push.client_state(_row(engine, DESK).mailbox_id)
    shown = ok(cli, "mailbox", "show", DESK)["push"]
    assert shown["state"] == "active" and shown["reason"] is None


def test_the_handshake_echoes_the_token_as_plain_text(live: Live) -> None:
    token = "Validation: Testing client application reachability <b>1</b>"
    answer = httpx.post(live.url + push.GRAPH_PATH, params={"validationToken": token})
    assert answer.status_code == 200 and answer.text == token
    assert answer.headers["content-type"].startswith("text/plain")


def test_a_graph_delivery_opens_the_request_on_the_notification(
    cli: Cli, cloud: IdentityServer, graph: GraphServer, engine: Engine, start_worker: Any
) -> None:
    _graph_desk(cli, cloud, graph)
    push.keep_up(engine)
    runs = start_worker()
    runs.wait_for(DESK)  # the first run, at start
    graph.deliver(DESK, [email_from("ann@example.org", subject="Printer on fire")])
    assert graph.notifications[-1][1] == 202
    runs.wait_for(DESK, opened=1)
    assert _opened(cli) == 1


def test_a_wrong_client_state_is_refused_and_wakes_nothing(
    cli: Cli, cloud: IdentityServer, graph: GraphServer, live: Live, engine: Engine
) -> None:
    _graph_desk(cli, cloud, graph)
    push.keep_up(engine)
    (subscription,) = graph.subscriptions.values()
    subscription.client_state = "guessed"
    before = _next_poll(engine, DESK)
    graph.deliver(DESK, [email_from("eve@example.org")])
    assert graph.notifications[-1][1] == 403
    assert _next_poll(engine, DESK) == before and _row(engine, DESK).notified_at is None
    forged = {"value": [{"subscriptionId": "nope", "clientState": "x", "changeType": "created"}]}
    assert httpx.post(live.url + push.GRAPH_PATH, json=forged).status_code == 403


def test_a_subscription_is_renewed_before_it_expires_and_remade_when_gone(
    cli: Cli, cloud: IdentityServer, graph: GraphServer, live: Live, engine: Engine
) -> None:
    _graph_desk(cli, cloud, graph)
    push.keep_up(engine)
    first = _row(engine, DESK)
    assert first.expires_at is not None and first.external_id in graph.subscriptions
    push.keep_up(engine)  # not due: nothing changes
    assert _row(engine, DESK).renewed_at == first.renewed_at
    # Half a day before expiry (the clock moved, not waited for): renewed, same subscription.
    push.keep_up(engine, now=first.expires_at.replace(tzinfo=UTC) - timedelta(hours=12))
    renewed = _row(engine, DESK)
    assert renewed.external_id == first.external_id and renewed.renewed_at != first.renewed_at
    # Graph let it expire meanwhile: the renewal finds it gone and makes a new one.
    graph.expire(first.external_id or "")
    push.keep_up(engine, now=utcnow() + timedelta(days=7))
    remade = _row(engine, DESK)
    assert remade.state == "active" and remade.external_id != first.external_id
    assert list(graph.subscriptions) == [remade.external_id]


def test_lifecycle_notifications_remake_renew_and_recover_missed_mail(
    cli: Cli, cloud: IdentityServer, graph: GraphServer, engine: Engine, start_worker: Any
) -> None:
    _graph_desk(cli, cloud, graph)
    push.keep_up(engine)
    first = _row(engine, DESK).external_id or ""
    assert graph.lifecycle(first, "reauthorizationRequired") == 202
    assert _row(engine, DESK).expires_at is not None
    push.keep_up(engine)  # due now: renewed (what reauthorization asks for)
    assert _row(engine, DESK).external_id == first
    assert graph.lifecycle(first, "subscriptionRemoved") == 202
    assert _row(engine, DESK).state == "polling"
    push.keep_up(engine)
    second = _row(engine, DESK).external_id
    assert second is not None and second != first and second in graph.subscriptions
    runs = start_worker()
    runs.wait_for(DESK)
    graph.drop_notifications = True  # Graph could not notify: the mail waits on the server
    graph.deliver(DESK, [email_from("bob@example.org", subject="Missed")])
    assert graph.lifecycle(second, "missed") == 202
    runs.wait_for(DESK, opened=1)
    assert _opened(cli) == 1


def test_without_a_public_url_the_mailbox_is_polled_and_says_why(
    cli: Cli, cloud: IdentityServer, graph: GraphServer, engine: Engine
) -> None:
    test_graph._desk(cli, cloud, graph)
    push.keep_up(engine)
    assert graph.subscriptions == {}
    shown = ok(cli, "mailbox", "show", DESK)["push"]
    assert shown["state"] == "polling" and "POSTROOM_PUBLIC_URL" in shown["reason"]
    text = cli("mailbox", "show", DESK).stdout
    assert "off, polled: POSTROOM_PUBLIC_URL is not set" in text


def test_a_subscription_graph_refuses_leaves_the_mailbox_polled_with_the_reason(
    cli: Cli,
    cloud: IdentityServer,
    graph: GraphServer,
    live: Live,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _graph_desk(cli, cloud, graph)
    # The published URL leads nowhere (a closed port): Graph's handshake fails.
    monkeypatch.setenv("POSTROOM_PUBLIC_URL", f"http://127.0.0.1:{free_port()}")
    get_settings.cache_clear()
    push.keep_up(engine)
    shown = ok(cli, "mailbox", "show", DESK)["push"]
    assert shown["state"] == "polling" and "validation request failed" in shown["reason"]


# ---------------------------------------------------------------------------- Gmail


def test_gmail_watch_is_made_and_renewed_daily(
    cli: Cli, cloud: IdentityServer, gmail: GmailServer, live: Live, engine: Engine
) -> None:
    _gmail_desk(cli, cloud, gmail, live)
    push.keep_up(engine)
    topic, labels, _ = gmail.watches[ANN]
    assert (topic, labels) == (TOPIC, ["INBOX"])
    assert ok(cli, "mailbox", "show", ANN)["push"]["state"] == "active"
    renewed_at = _row(engine, ANN).renewed_at
    push.keep_up(engine, now=utcnow() + timedelta(hours=12))
    assert _row(engine, ANN).renewed_at == renewed_at  # not yet due
    push.keep_up(engine, now=utcnow() + timedelta(days=1, minutes=1))
    assert _row(engine, ANN).renewed_at != renewed_at


def test_a_gmail_delivery_opens_the_request_on_the_push(
    cli: Cli, cloud: IdentityServer, gmail: GmailServer, live: Live, engine: Engine,
    start_worker: Any,
) -> None:  # fmt: skip
    _gmail_desk(cli, cloud, gmail, live)
    push.keep_up(engine)
    runs = start_worker()
    runs.wait_for(ANN)
    gmail.deliver(ANN, [email_from("carl@example.org", subject="Invoice")])
    assert gmail.pushes[-1] == 204
    runs.wait_for(ANN, opened=1)
    assert _opened(cli) == 1


def test_missed_gmail_pushes_are_recovered_from_the_stored_history_id(
    cli: Cli, cloud: IdentityServer, gmail: GmailServer, live: Live, engine: Engine,
    start_worker: Any,
) -> None:  # fmt: skip
    _gmail_desk(cli, cloud, gmail, live)
    push.keep_up(engine)
    runs = start_worker()
    runs.wait_for(ANN)
    gmail.drop_pushes = True  # past one a second, Gmail drops notifications
    gmail.deliver(ANN, [email_from(f"u{n}@example.org", subject=f"Dropped {n}") for n in range(2)])
    gmail.drop_pushes = False
    gmail.deliver(ANN, [email_from("u9@example.org", subject="Pushed")])
    runs.wait_for(ANN, opened=3)
    assert _opened(cli) == 3


@pytest.mark.parametrize("forgery", ["other-key", "other-audience", "other-account", "expired"])
def test_a_push_without_googles_genuine_token_is_refused(
    cli: Cli, cloud: IdentityServer, gmail: GmailServer, live: Live, engine: Engine, forgery: str
) -> None:
    _gmail_desk(cli, cloud, gmail, live)
    push.keep_up(engine)
    audience = live.url + push.GMAIL_PATH
    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": "https://accounts.google.com", "aud": audience, "email": ACCOUNT,
              "email_verified": True, "iat": now, "exp": now + 3600}  # fmt: skip
    if forgery == "other-key":
        forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = cloud.sign(claims, key=forger)
    elif forgery == "other-audience":
        token = cloud.sign(claims | {"aud": "https://elsewhere.example/push"})
    elif forgery == "other-account":
        token = cloud.sign(claims | {"email": "someone@evil.example"})
    else:
        token = cloud.sign(claims | {"iat": now - 7200, "exp": now - 3600})
    before = _next_poll(engine, ANN)
    assert gmail.publish(ANN, 5000, token=token) == 401
    assert _next_poll(engine, ANN) == before and _row(engine, ANN).notified_at is None
    assert gmail.publish(ANN, 5000) == 204  # the genuine one is taken
    assert _row(engine, ANN).notified_at is not None
