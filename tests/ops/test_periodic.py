"""The workers' rare jobs: each runs once an interval, never twice at a time."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine

from postroom.workers.periodic import Periodic, jobs


def test_a_periodic_job_waits_one_interval_and_never_overlaps_itself(engine: Engine) -> None:
    release = threading.Event()
    calls: list[Engine] = []

    def job(given: Engine) -> None:
        calls.append(given)
        release.wait(timeout=10)

    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=2) as pool:
        later = Periodic("later", 3600.0, job)
        later.submit_if_due(pool, engine, lock)
        assert later.running is None  # the first run comes an interval after start

        now = Periodic("now", 0.0, job)
        now.submit_if_due(pool, engine, lock)
        first = now.running
        assert first is not None
        now.submit_if_due(pool, engine, lock)
        assert now.running is first  # still running: not submitted again
        release.set()
        first.result(timeout=10)
        now.submit_if_due(pool, engine, lock)
        assert now.running is not first
        now.running.result(timeout=10)
    assert calls == [engine, engine]


def test_the_workers_run_the_gap_check_daily_and_the_doctor_every_six_hours() -> None:
    assert {(j.name, j.every) for j in jobs()} == {
        ("gap check", 86400.0),
        ("doctor notices", 21600.0),
    }
