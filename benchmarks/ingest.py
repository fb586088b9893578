"""Ingest benchmark: raw imaplib fetch, fetch + full parse, and postroom end to end, in one run.

    make bench-ingest N=10000        (or: .venv/bin/python -m benchmarks.ingest --messages 10000)

Prints messages per second and the ratio of postroom's end-to-end rate (IMAP -> committed
requests) to fetch + parse of the same messages, on SQLite and on PostgreSQL. Target: >= 60 %.
"""

from __future__ import annotations

import argparse
import email
import imaplib
import os
import tempfile
import time
import uuid
from email import policy
from pathlib import Path

import psycopg
from sqlalchemy import Engine
from tests.mailfactory import email_from
from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot

from postroom.config import get_settings
from postroom.services import fetching
from postroom.storage import db as storage_db
from postroom.storage import migrate
from postroom.storage.secrets import default_box

PASSWORD = "bench-pass-1"
CHUNK = 500


def corpus(n: int) -> list[bytes]:
    body = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 45)[:2600]
    return [email_from(f"sender{i % 500}@example.org", f"Case {i}", body) for i in range(n)]


def raw_fetch(dovecot: Dovecot, user: str, parse: bool) -> tuple[float, int]:
    client = imaplib.IMAP4(dovecot.host, dovecot.imap_port)
    client.login(user, PASSWORD)
    client.select("INBOX", readonly=True)
    started = time.perf_counter()
    _, data = client.uid("SEARCH", "ALL")
    uids = data[0].split()
    count = 0
    for start in range(0, len(uids), CHUNK):
        chunk = b",".join(uids[start : start + CHUNK]).decode()
        _, rows = client.uid("FETCH", chunk, "(BODY.PEEK[])")
        for row in rows:
            if isinstance(row, tuple):
                count += 1
                if parse:
                    msg = email.message_from_bytes(row[1], policy=policy.default)
                    body = msg.get_body(("plain", "html"))
                    _ = body.get_content() if body is not None else ""
                    _ = (msg["From"], msg["Subject"], msg["Message-ID"], msg["In-Reply-To"])
    elapsed = time.perf_counter() - started
    client.logout()
    return elapsed, count


def postroom_run(dovecot: Dovecot, user: str, url: str, data_dir: Path) -> tuple[float, int]:
    engine = setup_postroom(dovecot, user, url, data_dir)
    started = time.perf_counter()
    runs = fetching.fetch_once(engine)
    elapsed = time.perf_counter() - started
    assert all(r.ok for r in runs), [r.error for r in runs]
    engine.dispose()
    return elapsed, sum(r.fetched for r in runs)


def setup_postroom(dovecot: Dovecot, user: str, url: str, data_dir: Path) -> Engine:
    """A fresh postroom with one system mailbox on the Dovecot user, configured by environment
    so that a child `postroom` process sees the same one."""
    os.environ["POSTROOM_DATA_DIR"] = str(data_dir)
    os.environ["POSTROOM_DATABASE_URL"] = url
    os.environ["POSTROOM_SENDER_RATE_LIMIT"] = "1000000"
    for cache in (get_settings, default_box, storage_db.engine_for):
        cache.cache_clear()
    engine = storage_db.default_engine()
    migrate.upgrade(engine)
    from postroom.services import mailboxes, servers, workflows
    from postroom.services.actors import OPERATOR
    from postroom.services.mailboxes import MailboxSpec
    from postroom.services.servers import ServerSpec
    from postroom.storage.db import unit_of_work

    with unit_of_work(engine) as db:
        workflows.add(db, OPERATOR, "Support", "New,Triage,Done")
        servers.add(
            db,
            OPERATOR,
            ServerSpec("in", "imap", host=dovecot.host, port=dovecot.imap_port, security="none"),
        )
        mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec(
                user,
                incoming="in",
                system=True,
                password=PASSWORD,
                workflow="Support",
                after_import="keep",
            ),
        )
    return engine


def postgres_database() -> str:
    name = f"postroom_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    user = "bench@example.test"
    with (
        Dovecot(users={user: PASSWORD}, ca=TestCA()) as dovecot,
        tempfile.TemporaryDirectory() as tmp,
    ):
        dovecot.deliver(user, corpus(args.messages))
        fetch_s, n = raw_fetch(dovecot, user, parse=False)
        parse_s, _ = raw_fetch(dovecot, user, parse=True)
        print(f"messages: {n} of ~3 KB, Dovecot Maildir on loopback")
        print(f"imaplib fetch            {n / fetch_s:10.0f} msg/s")
        print(f"imaplib fetch + parse    {n / parse_s:10.0f} msg/s")
        targets = [("sqlite", f"sqlite:///{tmp}/bench.db")]
        if not args.skip_postgres:
            targets.append(("postgresql", postgres_database()))
        for label, url in targets:
            elapsed, fetched = postroom_run(dovecot, user, url, Path(tmp) / label)
            assert fetched == n, (fetched, n)
            rate = n / elapsed
            print(
                f"postroom end to end ({label:10}) {rate:8.0f} msg/s   "
                f"{rate / (n / parse_s):5.0%} of fetch + parse"
            )


if __name__ == "__main__":
    main()
