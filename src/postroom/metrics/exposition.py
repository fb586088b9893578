"""One scrape: this host's event metrics (from the multiprocess files, or this process) and the
database's states, in the Prometheus text format."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from postroom.metrics import events, process
from postroom.metrics.database import DatabaseCollector

CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Local(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from events.local_registry().collect()


def render(engine: Engine) -> bytes:
    registry = CollectorRegistry()
    directory = process.directory()
    if directory is not None:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    else:
        registry.register(_Local())
    registry.register(DatabaseCollector(engine))
    return generate_latest(registry)
