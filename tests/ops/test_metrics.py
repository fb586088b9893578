"""GET /metrics: who may read it, and what it counts after real mail went through Dovecot."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from postroom.api.app import create_app
from postroom.config import get_settings
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import Protocol, Security
from postroom.metrics import events
from postroom.metrics.idle import connections_held
from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox
from postroom.workers.hub import IdleTarget, Timings
from tests.api.conftest import make_user
from tests.conftest import Cli
from tests.integration.mailhelpers import add_desk, cli_json
from tests.integration.test_idle_hub import Events as HubEvents
from tests.integration.test_idle_hub import hub_for
from tests.mailfactory import email_from
from tests.ops.metrics_reader import scrape
from tests.servers.dovecot import Dovecot


@pytest.fixture
def client(postroom_env: Path) -> Iterator[TestClient]:
    with TestClient(create_app(workers=False)) as test_client:
        yield test_client


def metrics_token(cli: Cli) -> str:
    code, made = cli_json(cli, "token", "add", "prometheus", "--metrics")
    assert code == 0, made
    token = made["token"]
    assert isinstance(token, str)
    return token


def test_metrics_need_a_metrics_token_or_an_administrators_api_token(
    client: TestClient, cli: Cli
) -> None:
    assert client.get("/metrics").status_code == 401
    user_token = make_user("ann@example.test")
    assert (
        client.get("/metrics", headers={"Authorization": f"Bearer {user_token}"}).status_code == 403
    )
    admin_token = make_user("admin@example.test", admin=True)
    assert "postroom_mailboxes" in scrape(client, admin_token).names()

    token = metrics_token(cli)
    assert "postroom_mailboxes" in scrape(client, token).names()
    listed = cli_json(cli, "token", "list")[1]
    assert [t["name"] for t in listed] == ["prometheus"]
    assert "token" not in listed[0]  # never shown again
    assert cli("token", "revoke", str(listed[0]["id"])).code == 0
    assert client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    # a metrics token opens nothing else
    fresh = metrics_token(cli)
    headers = {"Authorization": f"Bearer {fresh}"}
    assert client.get("/api/v1/mailboxes", headers=headers).status_code == 401


def test_metrics_are_anonymous_only_when_a_setting_says_so(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTROOM_METRICS_PUBLIC", "true")
    get_settings.cache_clear()
    assert client.get("/metrics").status_code == 200


def test_fetching_counts_messages_by_outcome_and_times_delivery_from_the_servers_arrival(
    client: TestClient, cli: Cli, dovecot: Dovecot
) -> None:
    user = add_desk(cli, dovecot, "imap", dovecot.imap_port)
    with unit_of_work() as db:
        mailbox = db.query(Mailbox).filter_by(address=user).one()
        mailbox_id = str(mailbox.id)
    token = metrics_token(cli)
    before = scrape(client, token)
    # The Date headers say September 2026: only the IMAP INTERNALDATE says "just now".
    dovecot.deliver(
        user,
        [
            email_from("ann@example.org", subject="Printer on fire"),
            email_from("bob@example.org", subject="Laptop"),
            email_from(
                "mailer-daemon@example.org",
                subject="Undelivered",
                headers={"Auto-Submitted": "auto-replied"},
            ),
        ],
    )
    code, runs = cli_json(cli, "fetch", "--once")
    assert code == 0, runs
    after = scrape(client, token)

    def grew(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert grew("postroom_messages_fetched_total", mailbox=mailbox_id) == 3
    assert grew("postroom_messages_opened_total", mailbox=mailbox_id) == 2
    assert grew("postroom_messages_held_total", mailbox=mailbox_id) == 1
    assert grew("postroom_fetch_runs_total", mailbox=mailbox_id, outcome="ok") == 1
    assert grew("postroom_fetch_duration_seconds_count", protocol="imap") == 1
    assert grew("postroom_delivery_to_request_seconds_count", protocol="imap") == 2
    # both within a minute of arrival, so INTERNALDATE was used, not the months-old Date header
    assert grew("postroom_delivery_to_request_seconds_bucket", protocol="imap", le="60.0") == 2
    assert after.value("postroom_mailboxes", state="ok") == 1
    assert after.value("postroom_held_messages") == 1
    assert after.value("postroom_mailbox_seconds_since_success", mailbox=mailbox_id) < 60
    assert after.value("postroom_http_requests_total", route="/metrics", status="200") >= 1


def test_http_requests_are_counted_by_route_template_not_by_path(
    client: TestClient, cli: Cli
) -> None:
    admin_token = make_user("admin@example.test", admin=True)
    headers = {"Authorization": f"Bearer {admin_token}"}
    for number in (101, 102, 103):
        assert client.get(f"/api/v1/requests/{number}", headers=headers).status_code == 404
    scraped = scrape(client, admin_token)
    assert (
        scraped.value(
            "postroom_http_requests_total", route="/api/v1/requests/{request_id}", status="404"
        )
        >= 3
    )
    routes = {labels.get("route") for name, labels, _ in scraped.samples}
    assert not any(route and "101" in route for route in routes)


def test_counters_of_other_processes_on_the_host_are_in_the_scrape(
    client: TestClient, cli: Cli, postroom_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`postroom worker` processes write multiprocess files under the data dir; the process
    serving /metrics adds them up, and a dead worker's counters stay counted."""
    program = (
        "from pathlib import Path\n"
        "from postroom.metrics import events, process\n"
        f"process.enable(Path({str(postroom_env)!r}))\n"
        "events.fetch_run(7, 'imap', 'ok', 0.2, 5, 4, 1, {'bounce': 0})\n"
        "events.send_attempts({'sent': 3, 'deferred': 1})\n"
        "process.forget_this_process()\n"
    )
    for _ in range(2):  # two worker processes, one after the other
        done = subprocess.run([sys.executable, "-c", program], check=False, capture_output=True)
        assert done.returncode == 0, done.stderr.decode()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(postroom_env / "metrics"))
    scraped = scrape(client, metrics_token(cli))
    assert scraped.value("postroom_messages_fetched_total", mailbox="7") == 10
    assert scraped.value("postroom_fetch_runs_total", mailbox="7", outcome="ok") == 2
    assert scraped.value("postroom_send_attempts_total", outcome="sent") == 6
    assert "postroom_mailboxes" in scraped.names()  # the database's states too


def test_idle_connections_held_are_read_from_the_idle_hub(
    client: TestClient, cli: Cli, dovecot: Dovecot
) -> None:
    dovecot.add_user("gauge@example.test", "gauge-pass-1")
    watched = IdleTarget(
        mailbox_id=1,
        endpoint=Endpoint(Protocol.IMAP, "127.0.0.1", dovecot.imap_port, Security.NONE, 5.0, 5.0),
        credentials=Credentials("gauge@example.test", "gauge-pass-1"),
        folder="INBOX",
        slot=(1, "gauge"),
        max_connections=10,
        validity=None,
    )
    told = HubEvents()
    hub = hub_for({1: watched}, Timings(renew=600.0, quiet=600.0, answer=5.0), told)
    try:
        told.wait_for("the first look (never fetched)", lambda: told.wakes == [1])
        dovecot.deliver("gauge@example.test", [email_from("ann@example.org", "Printer on fire")])
        told.wait_for("a wake-up from IDLE", lambda: len(told.wakes) >= 2)
        assert connections_held(hub) == 1
        events.idle_connections(connections_held(hub))
        assert scrape(client, metrics_token(cli)).value("postroom_idle_connections") == 1
    finally:
        hub.stop()
    assert connections_held(None) == 0
