"""Send benchmark: raw smtplib over one connection against postroom's outbox flush, both to
Postfix's smtp-sink on loopback, in one run. Target: >= 90 % of the raw rate.

The two are measured in alternating slices of CLAIM_BATCH emails and their times summed, so
a machine whose load changes during the run (other jobs, CPU frequency) weighs on both alike.
Then each is run with several connections in parallel (threads), to show how it scales.

    make bench-send N=10000      (or: .venv/bin/python -m benchmarks.send --messages 10000)
"""

from __future__ import annotations

import argparse
import os
import smtplib
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Engine, func, select
from tests.servers.ports import free_port

from postroom.config import get_settings
from postroom.outbound.compose import Draft
from postroom.services import connections, delivery, mailboxes, outbox, servers
from postroom.services.actors import OPERATOR
from postroom.services.connections import ConnectionSpec
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec
from postroom.storage import db as storage_db
from postroom.storage import migrate
from postroom.storage.db import unit_of_work
from postroom.storage.models import OutboxItem
from postroom.storage.secrets import default_box

SINK = "/usr/sbin/smtp-sink"
BODY = ("Your request has been updated. " * 90)[:2600]
MESSAGE = (
    f"From: desk@example.test\r\nTo: c@example.org\r\nSubject: Update\r\n"
    f"Message-ID: <raw@example.test>\r\n\r\n{BODY}\r\n"
).encode()


def start_sink() -> tuple[subprocess.Popen[bytes], int]:
    if not Path(SINK).exists():
        raise SystemExit("smtp-sink is missing: `make bench-send` installs Debian's postfix.")
    port = free_port()
    sink = subprocess.Popen([SINK, "-u", "nobody", f"127.0.0.1:{port}", "256"])
    for _ in range(200):
        try:
            smtplib.SMTP("127.0.0.1", port, timeout=1).quit()
            return sink, port
        except OSError:
            time.sleep(0.01)  # readiness probe of a process we just started
    raise SystemExit("smtp-sink did not start")


def raw_seconds(port: int, n: int) -> float:
    client = smtplib.SMTP("127.0.0.1", port)
    started = time.perf_counter()
    for _ in range(n):
        client.sendmail("desk@example.test", ["c@example.org"], MESSAGE)
    elapsed = time.perf_counter() - started
    client.quit()
    return elapsed


def setup(port: int, data_dir: Path, window: int) -> Engine:
    os.environ["POSTROOM_DATA_DIR"] = str(data_dir)
    os.environ["POSTROOM_SEND_WINDOW"] = str(window)
    os.environ.pop("POSTROOM_DATABASE_URL", None)
    for cache in (get_settings, default_box, storage_db.engine_for):
        cache.cache_clear()
    engine = storage_db.default_engine()
    migrate.upgrade(engine)
    with unit_of_work(engine) as db:
        servers.add(
            db, OPERATOR, ServerSpec("sink", "smtp", host="127.0.0.1", port=port, security="none")
        )
        mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec("desk@example.test", outgoing="sink", system=True, password="unused"),
        )
        # smtp-sink answers AUTH with 250, which no client accepts: send as to a relay.
        connections.add(db, OPERATOR, ConnectionSpec("sink", "desk@example.test", auth="none"))
    return engine


def enqueue(engine: Engine, n: int) -> None:
    with unit_of_work(engine) as db:
        for i in range(n):
            outbox.enqueue(
                db,
                OPERATOR,
                Draft(
                    sender="desk@example.test",
                    to=("c@example.org",),
                    subject=f"Update {i}",
                    text=BODY,
                ),
                connection="sink",
                audited=False,
            )


def flush_seconds(engine: Engine) -> tuple[float, int]:
    started = time.perf_counter()
    result = delivery.flush_once(engine)
    assert not result.errors, result.errors
    return time.perf_counter() - started, result.sent


def interleaved(port: int, n: int, window: int) -> tuple[float, float]:
    """Rates (raw, postroom) over n emails, measured in alternating slices."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = setup(port, Path(tmp), window)
        enqueue(engine, n)
        raw_time = ours_time = 0.0
        sent = 0
        while sent < n:
            seconds, done = flush_seconds(engine)
            ours_time += seconds
            sent += done
            raw_time += raw_seconds(port, done)
        engine.dispose()
    return n / raw_time, n / ours_time


def parallel(port: int, n: int, workers: int) -> tuple[float, float]:
    """Rates (raw, postroom) with `workers` connections at once, each its own thread."""
    with ThreadPoolExecutor(workers) as pool:
        started = time.perf_counter()
        list(pool.map(lambda _: raw_seconds(port, n // workers), range(workers)))
        raw = n / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as tmp:
        engine = setup(port, Path(tmp), 1)
        enqueue(engine, n)
        sent_query = select(func.count()).where(OutboxItem.state == "sent")

        def drain(_: int) -> None:
            while True:
                if not flush_seconds(engine)[1]:
                    return

        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(drain, range(workers)))
        ours = n / (time.perf_counter() - started)
        with engine.connect() as connection:
            assert connection.scalar(sent_query) == n
        engine.dispose()
    return raw, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    sink, port = start_sink()
    try:
        print(f"{args.messages} emails of ~3 KB to smtp-sink on loopback")
        print("one connection, alternating slices        raw msg/s  postroom msg/s  ratio")
        for window in (1, 20, 100):
            raw, ours = interleaved(port, args.messages, window)
            label = f"POSTROOM_SEND_WINDOW={window}"
            print(f"  {label:40s} {raw:8.0f}  {ours:14.0f}  {ours / raw:5.0%}")
        print("parallel connections (window 1)")
        for workers in (2, 4):
            raw, ours = parallel(port, args.messages, workers)
            print(f"  {workers} connections{'':27s} {raw:8.0f}  {ours:14.0f}  {ours / raw:5.0%}")
        print("target: postroom >= 90 % of raw on one connection")
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
