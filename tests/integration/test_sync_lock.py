"""One sync pass per mailbox and kind at a time, across processes: a pass that finds another
one running skips the mailbox and says so (CLI, --json, Sync now), so no pending record is
pushed twice; and the lock dies with its process, so a pass killed with SIGKILL never holds
up the next. Each on SQLite (flock) and PostgreSQL (advisory lock)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select

from postroom.domain.endpoints import Credentials, Endpoint
from postroom.services import contacts, sync_runs, sync_status
from postroom.services.actors import OPERATOR
from postroom.storage import process_locks
from postroom.storage.db import unit_of_work
from postroom.storage.models import Contact, Mailbox, SyncState
from postroom.sync import registry
from postroom.sync.source import RecordData, RemoteRecord, SyncSource
from tests.conftest import Cli
from tests.integration.killing import kill_when
from tests.integration.mailhelpers import cli_json
from tests.integration.test_sync_dav import _card, _mailbox, _server_emails, radicale
from tests.servers.radicale import Radicale

__all__ = ["radicale"]
WAIT = 30.0  # seconds a condition may take before the test fails


class HeldInCreate:
    """The account's source, pausing in its first create until released: a pass caught while
    it pushes, the moment a second pass would push the same records."""

    def __init__(self, source: SyncSource, pushing: threading.Event, go: threading.Event) -> None:
        self.source, self.pushing, self.go = source, pushing, go

    def create(self, data: RecordData) -> RemoteRecord:
        self.pushing.set()
        assert self.go.wait(WAIT), "the test never released the first pass"
        return self.source.create(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)


def _mailbox_id(engine: Engine, address: str) -> int:
    with unit_of_work(engine) as db:
        found = db.scalar(select(Mailbox.id).where(Mailbox.address == address))
    assert found is not None
    return found


def _lock_taken(engine: Engine, mailbox_id: int) -> bool:
    with process_locks.held(engine, sync_runs.pass_lock(mailbox_id, "contacts")) as mine:
        return not mine


def _until(condition: Callable[[], bool], what: str) -> None:
    stop = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < stop, what
        threading.Event().wait(0.01)


def test_a_second_pass_on_a_mailbox_being_synced_skips_it_and_nothing_is_pushed_twice(
    cli: Cli, radicale: Radicale, engine: Engine, database_url: str
) -> None:
    ann = _mailbox(cli, radicale, "ann")
    assert cli("mailbox", "edit", ann, "--sync", "contacts").code == 0
    with unit_of_work(engine) as db:
        for n in range(2):
            contacts.add(db, OPERATOR, ann, f"here-{n}@x.example", f"Here {n}")
    mailbox_id = _mailbox_id(engine, ann)
    pushing, go = threading.Event(), threading.Event()

    def opener(
        endpoint: Endpoint, given: Credentials, kind: Any, dav_url: str | None
    ) -> SyncSource:
        source = registry.open_source(endpoint, given, kind, dav_url)
        return HeldInCreate(source, pushing, go)

    first: list[sync_runs.SyncRun] = []
    runner = threading.Thread(
        target=lambda: first.append(
            sync_runs.sync_mailbox(engine, mailbox_id, "contacts", opener=opener)
        )
    )
    runner.start()
    try:
        assert pushing.wait(WAIT), "the first pass never reached its pushes"

        code, runs = cli_json(cli, "sync", "--once")
        shown = cli("sync", "--once")
        now = sync_status.sync_now(engine, OPERATOR, ann)
    finally:
        go.set()
        runner.join(WAIT)

    assert code == 0 and runs == [
        {
            "address": ann,
            "kind": "contacts",
            "ok": True,
            "pulled": 0,
            "pushed": 0,
            "conflicts": 0,
            "deleted": 0,
            "error": None,
            "failure": None,
            "skipped": "being synced by another process",
        }
    ]
    assert shown.code == 0 and "skipped: being synced by another process" in shown.stdout
    assert [(r.kind, r.skipped) for r in now] == [("contacts", "being synced by another process")]
    assert [(r.ok, r.pushed, r.skipped) for r in first] == [(True, 2, None)]
    assert _server_emails(radicale, "ann") == ["here-0@x.example", "here-1@x.example"]
    assert not _lock_taken(engine, mailbox_id)  # released when the pass ended
    code, runs = cli_json(cli, "sync", "--once")
    assert code == 0 and [(r["skipped"], r["pushed"]) for r in runs] == [(None, 0)]
    assert _server_emails(radicale, "ann") == ["here-0@x.example", "here-1@x.example"]


def test_a_pass_killed_while_it_holds_the_lock_does_not_hold_up_the_next(
    cli: Cli, radicale: Radicale, engine: Engine, database_url: str
) -> None:
    ann = _mailbox(cli, radicale, "ann")
    assert cli("mailbox", "edit", ann, "--sync", "contacts").code == 0
    with radicale.other("ann") as client:
        for n in range(40):
            url = f"{radicale.addressbook('ann')}there-{n}.vcf"
            card = _card(f"there-{n}", f"there-{n}@x.example", f"There {n}")
            client.put(url, content=card.encode(), headers={"Content-Type": "text/vcard"})
    with unit_of_work(engine) as db:
        for n in range(120):
            contacts.add(db, OPERATOR, ann, f"here-{n}@x.example", f"Here {n}")
    mailbox_id = _mailbox_id(engine, ann)

    def pulled_and_locked() -> bool:
        with unit_of_work(engine) as db:
            cursor = db.scalar(select(SyncState.cursor).where(SyncState.kind == "contacts"))
        # Probed only once it committed a page, so it already holds the lock: never taken
        # from under its start by the probe.
        return cursor is not None and _lock_taken(engine, mailbox_id)

    killed = kill_when(["sync", "--once"], dict(os.environ), pulled_and_locked)

    assert killed
    with unit_of_work(engine) as db:
        assert db.scalar(select(Contact.id).where(Contact.pending).limit(1)) is not None
    # The kernel closes the killed process's descriptor and socket; PostgreSQL ends its
    # session when it reads that, and the lock goes with it. Nobody unlocked anything.
    _until(lambda: not _lock_taken(engine, mailbox_id), "the killed pass's lock stayed")
    code, runs = cli_json(cli, "sync", "--once")
    assert code == 0 and [(r["ok"], r["skipped"]) for r in runs] == [(True, None)]
    with unit_of_work(engine) as db:
        rows = db.execute(select(Contact.email, Contact.pending)).all()
    assert len(rows) == 160 and not any(r.pending for r in rows)
    wanted = sorted(
        [f"there-{n}@x.example" for n in range(40)] + [f"here-{n}@x.example" for n in range(120)]
    )
    assert _server_emails(radicale, "ann") == wanted
