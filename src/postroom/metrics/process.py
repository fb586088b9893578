"""Multiprocess mode: each `serve` or `worker` process writes its counters to memory-mapped
files in one directory, and the process that serves /metrics adds them up.

Chosen over a counter table in the database because an event costs a memory write instead of a
commit; the states that every process changes come from the database instead (database.py).
Workers on other hosts keep their own directory: their events are not in this host's scrape,
their effects on the database are.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def directory() -> Path | None:
    value = os.environ.get(ENV)
    return Path(value) if value else None


def enable(data_dir: Path) -> Path:
    """Called by long-running commands before any metric is touched; an operator's own
    PROMETHEUS_MULTIPROC_DIR wins."""
    path = directory() or data_dir / "metrics"
    path.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(path)
    from prometheus_client import values

    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return path


def forget_this_process() -> None:
    """At exit: this process's live gauges (IDLE connections) stop counting."""
    if directory() is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
