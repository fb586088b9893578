"""Push latency: with IMAP IDLE, how long from delivery into Dovecot to a committed request
(target: within 1 s); then Graph and Gmail push (benchmarks/cloud_push.py, within 2 s).

    make bench-push      (or: .venv/bin/python -m benchmarks.push --rounds 20)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from tests.mailfactory import email_from
from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot

from benchmarks import cloud_push
from benchmarks.ingest import PASSWORD, setup_postroom
from postroom.services.fetching import MailboxRun
from postroom.storage import db as storage_db
from postroom.workers.scheduler import Scheduler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    user = "bench@example.test"
    opened = threading.Semaphore(0)

    def on_run(run: MailboxRun) -> None:
        for _ in range(run.result.opened):
            opened.release()

    with (
        Dovecot(users={user: PASSWORD}, ca=TestCA()) as dovecot,
        tempfile.TemporaryDirectory() as tmp,
    ):
        setup_postroom(dovecot, user, f"sqlite:///{tmp}/bench.db", Path(tmp)).dispose()
        scheduler = Scheduler(storage_db.default_engine(), on_run=on_run)
        scheduler.start()
        try:
            time.sleep(2.0)  # let the first poll pass and IDLE settle before measuring
            latencies = []
            for i in range(args.rounds):
                started = time.perf_counter()
                dovecot.deliver(user, [email_from("ann@example.org", f"Push {i}")])
                if not opened.acquire(timeout=30):
                    raise SystemExit(f"round {i}: no request within 30 s")
                latencies.append(time.perf_counter() - started)
        finally:
            scheduler.stop()
    print(
        f"IDLE push, {args.rounds} rounds: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms (target: within 1 s)"
    )
    for line in cloud_push.run(args.rounds):  # Graph change notifications, Gmail Pub/Sub
        print(line)


if __name__ == "__main__":
    main()
