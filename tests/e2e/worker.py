"""A worker of its own beside the console, as `postroom worker` runs beside `postroom serve`:
it shares only the database with the web app, fetches what Fetch now asks for and sends the
outbox on its own ticks, so a browser test does neither itself."""

from __future__ import annotations

import math
import threading

from postroom.services.fetching import MailboxRun
from postroom.storage.db import default_engine
from postroom.workers.scheduler import Scheduler


class Worker:
    """No IDLE, so only a poll or Fetch now fetches; a short lease, so its heartbeat (which
    notices a cleared next poll) comes every second."""

    def __init__(self) -> None:
        self.runs: list[MailboxRun] = []
        self.changed = threading.Condition()
        self.scheduler = Scheduler(
            default_engine(), workers=2, idle=False, lease=4.0, on_run=self._ran
        )

    def _ran(self, run: MailboxRun) -> None:
        with self.changed:
            self.runs.append(run)
            self.changed.notify_all()

    def wait_for_a_run(self, address: str) -> None:
        """The worker's first look at a new mailbox that worked; after it the next poll is a
        whole interval away, so mail delivered then waits for Fetch now."""
        with self.changed:
            ran = self.changed.wait_for(
                lambda: any(r.address == address and r.ok for r in self.runs), timeout=20
            )
            assert ran, self.runs

    def sync_only_when_asked(self) -> None:
        """Leave out the worker's own contact and calendar passes (every ~5 minutes, looked
        for each half minute), so each pass in a story is its Sync now's and the counts shown
        are the story's. A worker's pass at that same moment would make Sync now skip the
        mailbox, "being synced by another process" (tests/integration/test_sync_lock.py)."""
        with self.scheduler.lock:
            self.scheduler.sync_due = math.inf
