"""`postroom serve`'s scheduler: IMAP IDLE turns a delivery into a request without waiting for
a poll, and a mailbox that hangs never holds up another."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from postroom.services.fetching import MailboxRun
from postroom.workers.scheduler import POLL, WAKE, Owned, Scheduler
from tests.conftest import Cli
from tests.integration.mailhelpers import cli_json
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot

WAIT = 30.0  # generous upper bound for a condition to hold; the benchmark measures latency


class Runs:
    """Collects the scheduler's finished runs and lets a test wait for a condition on them."""

    def __init__(self) -> None:
        self.runs: list[MailboxRun] = []
        self.changed = threading.Condition()

    def __call__(self, run: MailboxRun) -> None:
        with self.changed:
            self.runs.append(run)
            self.changed.notify_all()

    def until(self, check: Callable[[], bool]) -> None:
        with self.changed:
            assert self.changed.wait_for(check, timeout=WAIT), self.runs

    def wait_for(self, address: str, opened: int = 0) -> MailboxRun:
        def found() -> MailboxRun | None:
            return next(
                (r for r in self.runs if r.address == address and r.result.opened >= opened), None
            )

        with self.changed:
            assert self.changed.wait_for(lambda: found() is not None, timeout=WAIT), self.runs
            run = found()
            assert run is not None
            return run


def _mailbox(cli: Cli, dovecot: Dovecot, port: int, *extra: str) -> str:
    user = f"desk-{uuid.uuid4().hex[:8]}@example.test"
    dovecot.add_user(user, "desk-pass-1")
    server = f"in-{port}"
    cli(
        "server",
        "add",
        server,
        "--protocol",
        "imap",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--security",
        "none",
        *extra,
    )
    added = cli(
        "mailbox",
        "add",
        user,
        "--incoming",
        server,
        "--workflow",
        "Support",
        "--poll-interval",
        "3600",
        "--password-stdin",
        input="desk-pass-1\n",
    )
    assert added.code == 0, added.stderr
    return user


@pytest.fixture
def scheduler(engine: Engine) -> Iterator[tuple[Scheduler, Runs]]:
    runs = Runs()
    scheduler = Scheduler(engine, on_run=runs)
    yield scheduler, runs
    scheduler.stop()


def test_idle_turns_a_delivery_into_a_request_without_waiting_for_a_poll(
    cli: Cli, dovecot: Dovecot, scheduler: tuple[Scheduler, Runs]
) -> None:
    assert cli("workflow", "add", "Support", "--steps", "New,Triage,Done").code == 0
    user = _mailbox(cli, dovecot, dovecot.imap_port)
    worker, runs = scheduler
    worker.start()
    runs.wait_for(user)  # the first poll: nothing waits yet; next poll is an hour away
    assert worker.idle is not None
    assert worker.idle.watched() == 1
    dovecot.deliver(user, [email_from("ann@example.org", "Printer on fire")])
    run = runs.wait_for(user, opened=1)
    assert run.ok
    _, rows = cli_json(cli, "request", "list")
    assert [r["subject"] for r in rows] == ["Printer on fire"]


@pytest.fixture
def silent_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def test_a_hanging_mailbox_never_holds_up_another(
    cli: Cli, dovecot: Dovecot, silent_port: int, scheduler: tuple[Scheduler, Runs]
) -> None:
    assert cli("workflow", "add", "Support", "--steps", "New,Triage,Done").code == 0
    hanging = _mailbox(cli, dovecot, silent_port, "--timeout", "8")
    good = _mailbox(cli, dovecot, dovecot.imap_port)
    dovecot.deliver(good, [email_from("ann@example.org", "Printer on fire")])
    worker, runs = scheduler
    worker.start()
    assert runs.wait_for(good, opened=1).ok
    assert all(r.address != hanging for r in runs.runs), "the hanging mailbox finished first?"


def test_a_wake_up_goes_ahead_of_scheduled_polls_and_is_queued_once(engine: Engine) -> None:
    scheduler = Scheduler(engine, idle=False)  # not started: the queue is looked at directly
    for mailbox_id in (1, 2, 3, 4):
        scheduler.owned[mailbox_id] = Owned(
            epoch=1, protocol="imap", interval=60, slot=(1, f"m{mailbox_id}"), max_connections=10
        )
    for mailbox_id in (1, 2, 3):
        scheduler._enqueue(mailbox_id, POLL)
    scheduler._enqueue(4, WAKE)
    scheduler._enqueue(2, WAKE)  # already waiting for a poll: moves ahead, still runs once
    scheduler._enqueue(4, POLL)
    order = []
    while not scheduler.fetches.empty():
        priority, _, mailbox_id = scheduler.fetches.get()
        if scheduler.pending.get(mailbox_id) == priority:
            del scheduler.pending[mailbox_id]
            order.append(mailbox_id)
    assert order == [4, 2, 1, 3]
    scheduler.jobs.shutdown()


def test_fetches_of_one_mailbox_reuse_its_signed_in_session(
    cli: Cli, dovecot: Dovecot, scheduler: tuple[Scheduler, Runs]
) -> None:
    assert cli("workflow", "add", "Support", "--steps", "New,Triage,Done").code == 0
    user = _mailbox(cli, dovecot, dovecot.imap_port)
    worker, runs = scheduler
    worker.start()
    runs.wait_for(user)
    dovecot.deliver(user, [email_from("ann@example.org", "Printer on fire")])
    runs.until(lambda: sum(r.fetched for r in runs.runs) == 1)
    dovecot.deliver(user, [email_from("ann@example.org", "Still on fire")])
    runs.until(lambda: sum(r.fetched for r in runs.runs) == 2)
    assert worker.sessions.reused >= 1  # within KEEP seconds of the last fetch: no new sign-in
    _, rows = cli_json(cli, "request", "list")
    assert sorted(r["subject"] for r in rows) == ["Printer on fire", "Still on fire"]


def test_polls_cancelled_by_a_healthy_idle_do_not_wake_the_loop(engine: Engine) -> None:
    """Adopting mailboxes schedules a backup poll for each; once IDLE holds they are cancelled,
    and the loop must sleep to the next real poll, not wake once for each cancelled one (the
    benchmark saw 19 % of a core for a minute after adopting 2,000 mailboxes)."""
    scheduler = Scheduler(engine, idle=False)  # not started: the schedule is looked at directly
    with scheduler.lock:
        for mailbox_id in range(1, 101):
            owned = Owned(
                epoch=1,
                protocol="imap",
                interval=60,
                slot=(1, f"m{mailbox_id}"),
                max_connections=10,
            )
            scheduler.owned[mailbox_id] = owned
            scheduler._schedule(owned, mailbox_id, mailbox_id)  # 1 s … 100 s from now
    for mailbox_id in range(1, 100):
        scheduler._watching(mailbox_id, healthy=True)  # IDLE holds: no polling
    with scheduler.lock:
        scheduler._drop_cancelled()
        assert (
            scheduler.heap[0][1] == 100
        )  # the one mailbox still polled is what the loop waits for
        assert len(scheduler.heap) == 1
    scheduler.jobs.shutdown()


def test_the_outbox_is_looked_at_once_a_tick_however_often_the_loop_wakes(engine: Engine) -> None:
    scheduler = Scheduler(engine, idle=False)
    looked = threading.Semaphore(0)
    scheduler._send = looked.release  # type: ignore[method-assign]  # counts, sends nothing
    scheduler._notify = lambda: None  # type: ignore[method-assign]
    for _ in range(50):  # fifty wake-ups within one tick, e.g. fetches finishing
        scheduler._submit_jobs()
        if scheduler.sending is not None:
            scheduler.sending.result()
    assert looked.acquire(timeout=WAIT)
    assert not looked.acquire(blocking=False)  # once, not fifty times
    scheduler.jobs.shutdown()
