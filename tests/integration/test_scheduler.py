"""`postroom serve`'s scheduler: IMAP IDLE turns a delivery into a request without waiting for
a poll, and a mailbox that hangs never holds up another."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from postroom.services.fetching import MailboxRun
from postroom.workers.scheduler import Scheduler
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
