"""Rare jobs of the workers, each a name, an interval and a function of the engine: the daily
gap check and the doctor's notices. The first run comes one interval after start, so a worker
that restarts often does not probe every server each time."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field

from sqlalchemy import Engine

log = logging.getLogger(__name__)

HOUR = 3600.0


@dataclass
class Periodic:
    name: str
    every: float  # seconds
    job: Callable[[Engine], object]
    due: float = field(default=0.0)
    running: Future[None] | None = None

    def submit_if_due(self, pool: Executor, engine: Engine, lock: threading.Lock) -> None:
        now = time.monotonic()
        with lock:
            if self.due == 0.0:
                self.due = now + self.every
            if now < self.due or (self.running is not None and not self.running.done()):
                return
            self.due = now + self.every
            self.running = pool.submit(self._run, engine)

    def _run(self, engine: Engine) -> None:
        try:
            self.job(engine)
        except Exception:  # logged; the next interval tries again
            log.exception("the %s job failed unexpectedly", self.name)


def jobs() -> list[Periodic]:
    # Imported here: the services import much, and the scheduler module is imported early.
    from postroom.services import gaps
    from postroom.services.doctor.notify import notify

    return [
        Periodic("gap check", 24 * HOUR, gaps.check_all),
        Periodic("doctor notices", 6 * HOUR, notify),  # each finding told once a day at most
    ]
