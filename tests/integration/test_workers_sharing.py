"""Several workers on one PostgreSQL: each receiving mailbox has exactly one live owner,
ownership rebalances when workers join and leave, a paused worker's late commit is refused
(and the server is told nothing), and kill -9 of a worker hands its mailboxes over."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text, update

from postroom.errors import LeaseLost
from postroom.services import fetching
from postroom.storage import db as storage_db
from postroom.storage.models import Mailbox, Request, Worker, utcnow
from postroom.workers.ownership import Ownership, lock_key, owner_of
from tests.conftest import Cli, _truncate
from tests.integration.mailhelpers import add_mailbox, add_server
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot

LEASE = 20.0


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """PostgreSQL only: sharing mailboxes among workers is what it coordinates."""
    yield postgres_url
    _truncate(storage_db.engine_for(storage_db.normalise_url(postgres_url)))


def _mailboxes(cli: Cli, dovecot: Dovecot, count: int) -> list[int]:
    assert cli("workflow", "add", "Support", "--steps", "New,Triage,Done").code == 0
    add_server(cli, "dovecot", "imap", dovecot.imap_port, "none")
    for i in range(count):
        address = f"share-{i}@example.test"
        dovecot.add_user(address, "share-pass")
        add_mailbox(cli, address, "share-pass", "--incoming", "dovecot", "--workflow", "Support")
    engine = storage_db.default_engine()
    with engine.connect() as connection:
        return sorted(connection.scalars(select(Mailbox.id)))


def _pause(engine: Engine, worker: str) -> None:
    """As if `worker` had been stopped past its lease: its heartbeat is old."""
    with engine.begin() as connection:
        connection.execute(
            update(Worker)
            .where(Worker.name == worker)
            .values(heartbeat_at=utcnow() - timedelta(seconds=LEASE + 1))
        )


def test_mailboxes_are_shared_by_rendezvous_and_rebalanced_on_join_and_leave(
    database_url: str, cli: Cli, dovecot: Dovecot, engine: Engine
) -> None:
    ids = _mailboxes(cli, dovecot, 12)
    a, b = Ownership(engine, "a", LEASE), Ownership(engine, "b", LEASE)
    assert set(a.beat().owned) == set(ids)  # alone: everything
    assert b.beat().owned == {}  # joined; a still owns them all
    share_b = {i for i in ids if owner_of(["a", "b"], i) == "b"}
    assert 0 < len(share_b) < len(ids)
    assert set(a.beat().owned) == set(ids) - share_b  # a hands b's share over
    beat_b = b.beat()
    assert set(beat_b.owned) == share_b and beat_b.taken_over == set()
    assert set(a.beat().owned) == set(ids) - share_b  # stable: nothing moves back and forth

    b.leave()  # a clean stop gives everything back at once
    assert set(a.beat().owned) == set(ids)

    b.beat(), a.beat()
    epochs = b.beat().owned
    _pause(engine, "b")  # b dies: its heartbeat ages past the lease
    taken = a.beat()
    assert set(taken.owned) == set(ids)
    assert taken.taken_over == share_b
    assert all(taken.owned[i] == epochs[i] + 1 for i in share_b)  # the fencing token moved
    with engine.connect() as connection:
        assert list(connection.scalars(select(Worker.name))) == ["a"]


def _end_session_of(engine: Engine, worker: str) -> None:
    """As if `worker`'s process had been killed: its database session (and lock) ends, while
    its heartbeat is still fresh."""
    key = lock_key(worker) & 0xFFFF_FFFF_FFFF_FFFF
    with engine.begin() as connection:
        ended = connection.scalars(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"
            ),
            {"high": key >> 32, "low": key & 0xFFFF_FFFF},
        ).all()
    assert ended == [True]


def test_a_dead_workers_mailboxes_are_taken_at_the_next_heartbeat_not_after_the_lease(
    database_url: str, cli: Cli, dovecot: Dovecot, engine: Engine
) -> None:
    ids = _mailboxes(cli, dovecot, 12)
    a, b = Ownership(engine, "a", LEASE), Ownership(engine, "b", LEASE)
    a.beat(), b.beat(), a.beat()
    share_b = {i for i in ids if owner_of(["a", "b"], i) == "b"}
    epochs = b.beat().owned
    assert set(epochs) == share_b

    _end_session_of(engine, "b")  # kill -9: b's heartbeat is fresh, but its lock is gone
    taken = a.beat()
    assert set(taken.owned) == set(ids) and taken.taken_over == share_b
    assert all(taken.owned[i] == epochs[i] + 1 for i in share_b)
    with engine.connect() as connection:
        assert list(connection.scalars(select(Worker.name))) == ["a"]

    # A worker only cut off from the database comes back at its next heartbeat, lock and all,
    # and gets its share again (with a new epoch: its old batches stay fenced off).
    assert b.beat().owned == {}
    assert set(a.beat().owned) == set(ids) - share_b
    back = b.beat().owned
    assert set(back) == share_b and all(back[i] > epochs[i] + 1 for i in share_b)
    a.leave()
    b.leave()


def test_a_paused_workers_late_commit_is_refused_and_the_server_is_told_nothing(
    database_url: str, cli: Cli, dovecot: Dovecot, engine: Engine
) -> None:
    (mailbox_id,) = _mailboxes(cli, dovecot, 1)
    dovecot.deliver("share-0@example.test", [email_from("ann@example.org", "Printer on fire")])
    a, b = Ownership(engine, "a", LEASE), Ownership(engine, "b", LEASE)
    epoch = a.beat().owned[mailbox_id]
    at_commit, resume = threading.Event(), threading.Event()

    def paused(db: object) -> None:
        at_commit.set()  # fetched, about to commit: the process stops here
        resume.wait()
        a.fence(db, mailbox_id, epoch)  # type: ignore[arg-type]

    runs: list[fetching.MailboxRun] = []
    late = threading.Thread(
        target=lambda: runs.append(fetching.fetch_mailbox(engine, mailbox_id, fence=paused))
    )
    late.start()
    assert at_commit.wait(30)
    _pause(engine, "a")
    taken = b.beat()
    assert mailbox_id in taken.taken_over
    resume.set()
    late.join(30)
    assert runs[0].failure == LeaseLost.code and runs[0].fetched == 0

    # The message is still unread on the server (mark-read was not applied), so the new owner
    # imports it, once.
    new_owner = fetching.fetch_mailbox(
        engine,
        mailbox_id,
        fence=lambda db: b.fence(db, mailbox_id, taken.owned[mailbox_id]),
    )
    assert new_owner.ok and new_owner.fetched == 1 and new_owner.result.opened == 1
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Request)) == 1


class Worker_:
    """`postroom worker` in a process of its own, its log read line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "postroom", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []  # every line read so far
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)

    def until(self, what: str, done: Callable[[list[str]], bool], timeout: float = 60.0) -> None:
        """Read the log until `done(all lines so far)` holds."""
        try:
            while not done(self.log):
                self.log.append(self.lines.get(timeout=timeout))
        except queue.Empty:
            raise AssertionError(f"{what}; the worker's log: {''.join(self.log)}") from None

    def mark(self) -> int:
        return len(self.log)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _said(log: list[str], text: str) -> bool:
    return any(text in line for line in log)


def _fetched(log: list[str]) -> int:
    return sum(
        int(line.rsplit(" fetched", 1)[0].rsplit(" ", 1)[1]) for line in log if " fetched" in line
    )


def test_kill_9_of_a_worker_hands_its_mailboxes_to_the_other_none_lost_none_twice(
    database_url: str, cli: Cli, dovecot: Dovecot, engine: Engine, postroom_env: Path
) -> None:
    ids = _mailboxes(cli, dovecot, 6)
    env = dict(os.environ, POSTROOM_WORKER_LEASE="8", POSTROOM_LOG_LEVEL="INFO")
    first = Worker_(env)
    second: Worker_ | None = None
    try:
        first.until("the first claims all", lambda log: _said(log, "claimed 6 mailboxes"))
        second = Worker_(env)
        second.until("the second claims its share", lambda log: _said(log, "claimed"))
        with engine.connect() as connection:
            owners = dict(connection.execute(select(Mailbox.id, Mailbox.lease_owner)).all())
        assert len(set(owners.values())) == 2 and set(owners) == set(ids)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        for i in range(6):
            dovecot.deliver(
                f"share-{i}@example.test", [email_from("ann@example.org", f"Burst {i}")]
            )
        since = second.mark()
        second.until(
            "the survivor takes the dead worker's share and fetches every email",
            lambda log: _said(log[since:], "claimed") and _fetched(log[since:]) >= 6,
        )
        with engine.connect() as connection:
            subjects = sorted(connection.scalars(select(Request.subject)))
        assert subjects == [f"Burst {i}" for i in range(6)]  # none lost, none twice
    finally:
        first.stop()
        if second is not None:
            second.stop()
