"""Send benchmark: raw smtplib over one connection against postroom's outbox flush, both to
Postfix's smtp-sink on loopback, in one run. Target: >= 90 % of the raw rate.

    make bench-send N=10000      (or: .venv/bin/python -m benchmarks.send --messages 10000)
"""

from __future__ import annotations

import argparse
import os
import smtplib
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers.ports import free_port

from postroom.config import get_settings
from postroom.outbound.compose import Draft
from postroom.services import connections, mailboxes, outbox, servers
from postroom.services.actors import OPERATOR
from postroom.services.connections import ConnectionSpec
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec
from postroom.storage import db as storage_db
from postroom.storage import migrate
from postroom.storage.db import unit_of_work
from postroom.storage.secrets import default_box

SINK = "/usr/sbin/smtp-sink"
BODY = ("Your request has been updated. " * 90)[:2600]


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


def raw_rate(port: int, n: int) -> float:
    message = (
        f"From: desk@example.test\r\nTo: c@example.org\r\nSubject: Update\r\n"
        f"Message-ID: <raw@example.test>\r\n\r\n{BODY}\r\n"
    ).encode()
    client = smtplib.SMTP("127.0.0.1", port)
    started = time.perf_counter()
    for _ in range(n):
        client.sendmail("desk@example.test", ["c@example.org"], message)
    elapsed = time.perf_counter() - started
    client.quit()
    return n / elapsed


def postroom_rate(port: int, n: int, data_dir: Path) -> float:
    os.environ["POSTROOM_DATA_DIR"] = str(data_dir)
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
            )
    started = time.perf_counter()
    sent = 0
    while sent < n:
        result = outbox.flush_once(engine)
        assert not result.errors, result.errors
        sent += result.sent
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    sink, port = start_sink()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            raw = raw_rate(port, args.messages)
            ours = postroom_rate(port, args.messages, Path(tmp))
    finally:
        sink.terminate()
        sink.wait()
    print(f"messages: {args.messages} of ~3 KB to smtp-sink on loopback, one connection")
    print(f"smtplib raw                 {raw:8.0f} msg/s")
    print(
        f"postroom outbox flush       {ours:8.0f} msg/s   {ours / raw:5.0%} of raw (target >= 90 %)"
    )


if __name__ == "__main__":
    main()
