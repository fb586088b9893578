"""Ingest benchmark: raw imaplib fetch, a naive ingester, and postroom end to end, in one run.

    make bench-ingest N=10000        (or: .venv/bin/python -m benchmarks.ingest --messages 10000)

Two corpora, each in its own Dovecot mailbox: "long" (~3 KB bodies with one long line, which
the email package writes quoted-printable) and "short" (short single-part plain-text emails,
7bit, the bulk of real mail). For each: the naive single-core ingester of DESIGN.md (imaplib
UID FETCH BODY.PEEK[] in chunks of 500, email.message_from_bytes(policy=policy.default), From,
Subject, Message-ID, In-Reply-To, References, Date and the body text) and postroom end to end:
the `postroom fetch --once` process, start-up included, IMAP to committed requests. Prints
messages per second and postroom's rate as a ratio of the naive one. Target: >= 1.0 on both.
"""

from __future__ import annotations

import argparse
import email
import imaplib
import json
import os
import resource
import subprocess
import sys
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
from postroom.storage import db as storage_db
from postroom.storage import migrate
from postroom.storage.secrets import default_box

PASSWORD = "bench-pass-1"
CHUNK = 500
HEADERS = ("From", "Subject", "Message-ID", "In-Reply-To", "References", "Date")


def corpus(n: int) -> list[bytes]:
    body = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 45)[:2600]
    return [email_from(f"sender{i % 500}@example.org", f"Case {i}", body) for i in range(n)]


SHORT_BODIES = (
    "Hello,\n\nthe printer on the third floor is out of toner again.\n"
    "Could someone bring a new cartridge?\n\nThanks,\nAnn\n",
    "Hi team,\n\nmy laptop will not connect to the VPN since this morning.\n\nBest,\nBob\n",
    "Good morning,\n\nplease reset my password for the booking system.\n\nCarla\n",
)


def short_corpus(n: int) -> list[bytes]:
    """Short single-part plain-text emails (~450 bytes), as most people write them."""
    return [
        email_from(f"sender{i % 500}@example.org", f"Ticket {i}", SHORT_BODIES[i % 3])
        for i in range(n)
    ]


CORPORA = {"long": corpus, "short": short_corpus}


def raw_fetch(dovecot: Dovecot, user: str, parse: bool) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, messages)."""
    client = imaplib.IMAP4(dovecot.host, dovecot.imap_port)
    client.login(user, PASSWORD)
    client.select("INBOX", readonly=True)
    started, cpu = time.perf_counter(), time.process_time()
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
                    _ = [msg[h] for h in HEADERS]
                    body = msg.get_body(("plain", "html"))
                    _ = body.get_content() if body is not None else ""
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    client.logout()
    return elapsed, cpu, count


def postroom_run(dovecot: Dovecot, user: str, url: str, data_dir: Path) -> tuple[float, float, int]:
    """`postroom fetch --once` as a user runs it: a new process, start-up included.
    (wall seconds, CPU seconds of the process and any it starts, messages)."""
    setup_postroom(dovecot, user, url, data_dir).dispose()
    command = [str(Path(sys.executable).with_name("postroom")), "fetch", "--once", "--json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)
    assert all(r["ok"] for r in runs), runs
    return elapsed, cpu, sum(r["fetched"] for r in runs)


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
    parser.add_argument("--corpus", choices=[*CORPORA, "all"], default="all")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    names = list(CORPORA) if args.corpus == "all" else [args.corpus]
    users = {f"bench-{name}@example.test": PASSWORD for name in names}
    with (
        Dovecot(users=users, ca=TestCA()) as dovecot,
        tempfile.TemporaryDirectory() as tmp,
    ):
        print(f"{args.messages} messages a corpus, Dovecot Maildir on loopback, one run")
        for name in names:
            user = f"bench-{name}@example.test"
            messages = CORPORA[name](args.messages)
            size = sum(len(m) for m in messages) // len(messages)
            dovecot.deliver(user, messages)
            fetch_s, _, n = raw_fetch(dovecot, user, parse=False)
            naive_s, naive_cpu, _ = raw_fetch(dovecot, user, parse=True)
            naive = n / naive_s
            print(f"corpus {name}: ~{size} bytes a message")
            print(f"  imaplib fetch                   {n / fetch_s:8.0f} msg/s")
            print(
                f"  naive ingester                  {naive:8.0f} msg/s"
                f"   ({n / naive_cpu:.0f} msg per CPU second)"
            )
            targets = [("sqlite", f"sqlite:///{tmp}/{name}.db")]
            if not args.skip_postgres:
                targets.append(("postgresql", postgres_database()))
            for label, url in targets:
                elapsed, cpu, fetched = postroom_run(
                    dovecot, user, url, Path(tmp) / f"{name}-{label}"
                )
                assert fetched == n, (fetched, n)
                rate = n / elapsed
                print(
                    f"  postroom fetch --once ({label:10}) {rate:8.0f} msg/s   "
                    f"{rate / naive:5.2f} x the naive ingester "
                    f"({n / cpu:.0f} msg per CPU second, {naive_cpu / cpu:.2f} x)"
                )


if __name__ == "__main__":
    main()
