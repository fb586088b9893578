"""No user can stall the others (DESIGN invariant 11): discoveries for a domain whose DNS never
answers run on threads of their own, hold no database connection while they wait, are limited
per user, and /health and everyone else's calls go on answering meanwhile."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.pool import QueuePool

from postroom.discovery.context import DiscoveryContext
from postroom.storage.db import default_engine
from tests.api.conftest import PROBLEM, Api, make_user

pytestmark = pytest.mark.usefixtures("loopback_only")
USERS = 8
EACH = 5  # requests a user fires at once; 2 are admitted (POSTROOM_NETWORK_CALLS_AT_ONCE)


@pytest.fixture
def silent_dns(
    loopback_env: DiscoveryContext, monkeypatch: pytest.MonkeyPatch
) -> Iterator[socket.socket]:
    """A DNS server on loopback that takes every query and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(30)
        monkeypatch.setenv("POSTROOM_DISCOVERY_NAMESERVER", f"127.0.0.1:{sink.getsockname()[1]}")
        yield sink


def wait_for_queries(sink: socket.socket, domains: set[str]) -> None:
    """Until every domain was asked about: its discovery is then past its database read."""
    unseen = {d.encode() for d in domains}
    while unseen:
        packet = sink.recv(4096)
        unseen = {d for d in unseen if d not in packet}


def test_slow_discoveries_never_stall_health_or_other_users(
    client: TestClient, silent_dns: socket.socket
) -> None:
    users = [
        Api(client, f"u{i}@example.test", make_user(f"u{i}@example.test")) for i in range(USERS)
    ]
    bystander = Api(client, "bea@example.test", make_user("bea@example.test"))
    with ThreadPoolExecutor(max_workers=USERS * EACH) as pool:
        calls: list[Future[Any]] = [
            pool.submit(user.get, "/discover", params={"address": f"y@d{u}x{n}.test", "timeout": 5})
            for u, user in enumerate(users)
            for n in range(EACH)
        ]
        domain_of = {id(call): f"d{i // EACH}x{i % EACH}" for i, call in enumerate(calls)}
        refused = []
        for done in as_completed(calls):  # the refusals come at once, the rest in 5 s
            refused.append(done.result())
            if len(refused) == USERS * (EACH - 2):
                break
        waiting = [c for c in calls if not c.done()]
        assert len(waiting) == USERS * 2
        assert all(r.status_code == 429 for r in refused)
        assert refused[0].headers["content-type"] == PROBLEM
        wait_for_queries(silent_dns, {domain_of[id(c)] for c in waiting})
        connections = default_engine().pool
        assert (
            isinstance(connections, QueuePool) and connections.checkedout() == 0
        )  # none held while waiting
        started = time.monotonic()
        health = client.get("/health")
        answered_in = time.monotonic() - started
        me = bystander.get("/me")
        assert not any(c.done() for c in waiting), "answered while every discovery still waits"
    assert health.status_code == 200 and answered_in < 1.0
    assert me.status_code == 200
    finished = [c.result() for c in waiting]
    assert all(f.status_code == 200 for f in finished), [f.text for f in finished]
    outcomes = {o["source"]: o["status"] for o in finished[0].json()["outcomes"]}
    assert outcomes["srv"] == "timed-out"
