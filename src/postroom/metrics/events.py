"""Counters and histograms of things that happen, recorded where they happen.

The metric objects are made on first use, not at import: the CLI stays fast, and a `serve` or
`worker` process can switch to multiprocess mode (process.py) before the first one exists.
Labels are bounded: a mailbox id, a protocol, a held reason, an outcome; never free text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING

from postroom.metrics import process
from postroom.storage.models import aware, utcnow

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.25, 0.5, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


@cache
def local_registry() -> CollectorRegistry:
    """This process's metrics when it is not in multiprocess mode (tests, `fetch --once`)."""
    from prometheus_client import CollectorRegistry

    return CollectorRegistry(auto_describe=True)


@dataclass(frozen=True)
class _Metrics:
    fetched: Counter
    opened: Counter
    threaded: Counter
    held: Counter
    fetch_runs: Counter
    fetch_seconds: Histogram
    delivery_seconds: Histogram
    send_attempts: Counter
    http_requests: Counter
    http_seconds: Histogram
    idle_connections: Gauge


@cache
def _metrics() -> _Metrics:
    from prometheus_client import Counter, Gauge, Histogram

    registry = None if process.directory() is not None else local_registry()
    return _Metrics(
        fetched=Counter(
            "postroom_messages_fetched", "Emails fetched", ["mailbox"], registry=registry
        ),
        opened=Counter(
            "postroom_messages_opened",
            "Emails that opened a request",
            ["mailbox"],
            registry=registry,
        ),
        threaded=Counter(
            "postroom_messages_threaded",
            "Emails that joined a request",
            ["mailbox"],
            registry=registry,
        ),
        held=Counter(
            "postroom_messages_held",
            "Emails held, by reason",
            ["mailbox", "reason"],
            registry=registry,
        ),
        fetch_runs=Counter(
            "postroom_fetch_runs",
            "Fetch runs by outcome (ok or the failure's code)",
            ["mailbox", "outcome"],
            registry=registry,
        ),
        fetch_seconds=Histogram(
            "postroom_fetch_duration_seconds",
            "How long one mailbox's fetch run took",
            ["protocol"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        ),
        delivery_seconds=Histogram(
            "postroom_delivery_to_request_seconds",
            "From the server's arrival time (IMAP INTERNALDATE, Gmail internalDate, else the "
            "Date header) to the commit that opened or joined a request",
            ["protocol"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        send_attempts=Counter(
            "postroom_send_attempts",
            "Outbox send attempts by outcome",
            ["outcome"],
            registry=registry,
        ),
        http_requests=Counter(
            "postroom_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=registry,
        ),
        http_seconds=Histogram(
            "postroom_http_request_duration_seconds",
            "HTTP request duration by route",
            ["route"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        ),
        idle_connections=Gauge(
            "postroom_idle_connections",
            "IMAP IDLE connections held now",
            multiprocess_mode="livesum",
            registry=registry,
        ),
    )


def fetch_run(
    mailbox_id: int,
    protocol: str,
    outcome: str,
    seconds: float,
    fetched: int,
    opened: int,
    threaded: int,
    held: dict[str, int],
) -> None:
    m, mailbox = _metrics(), str(mailbox_id)
    m.fetch_runs.labels(mailbox, outcome).inc()
    m.fetch_seconds.labels(protocol).observe(seconds)
    if fetched:
        m.fetched.labels(mailbox).inc(fetched)
    if opened:
        m.opened.labels(mailbox).inc(opened)
    if threaded:
        m.threaded.labels(mailbox).inc(threaded)
    for reason, count in held.items():
        m.held.labels(mailbox, reason).inc(count)


def delivered(protocol: str, arrivals: Iterable[datetime | None]) -> None:
    """Called right after the commit that made these emails requests."""
    histogram = _metrics().delivery_seconds.labels(protocol)
    now = utcnow()
    for arrived in arrivals:
        if arrived is not None:
            histogram.observe(max(0.0, (now - aware(arrived)).total_seconds()))


def send_attempts(outcomes: dict[str, int]) -> None:
    counter = _metrics().send_attempts
    for outcome, count in outcomes.items():
        if count:
            counter.labels(outcome).inc(count)


def http_request(route: str, method: str, status: int, seconds: float) -> None:
    m = _metrics()
    m.http_requests.labels(route, method, str(status)).inc()
    m.http_seconds.labels(route).observe(seconds)


def idle_connections(count: int) -> None:
    _metrics().idle_connections.set(count)
