"""Fetch now against a real Dovecot: the run's counters rise as each batch commits, the run
ends with its result, a failed fetch is recorded for the health chart, and a user can fetch
only their own mailboxes."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from postroom.api.app import create_app
from postroom.config import get_settings
from postroom.errors import NotFound
from postroom.services import (
    fetch_runs,
    fetching,
    mailbox_activity,
    mailboxes,
    servers,
    users,
    workflows,
)
from postroom.services.actors import OPERATOR, Actor
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec
from postroom.storage.db import default_engine, unit_of_work
from postroom.storage.models import FetchRun, Mailbox
from tests.api.conftest import make_user
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot


def _desk(engine: Engine, dovecot: Dovecot, password: str = "desk-pass-1") -> tuple[str, int]:
    address = f"desk-{uuid.uuid4().hex[:8]}@example.test"
    dovecot.add_user(address, "desk-pass-1")
    with unit_of_work(engine) as db:
        spec = ServerSpec(
            name="in", protocol="imap", host="127.0.0.1", port=dovecot.imap_port, security="none"
        )
        servers.add(db, OPERATOR, spec)
        workflows.add(db, OPERATOR, "Support", ["New", "Done"])
        mailbox = mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec(
                address=address, incoming="in", system=True, password=password, workflow="Support"
            ),
        )
        return address, mailbox.id


def test_the_counters_rise_as_each_batch_commits_then_the_run_ends_with_its_result(
    database_url: str, engine: Engine, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTROOM_FETCH_BATCH_SIZE", "5")
    get_settings.cache_clear()
    address, mailbox_id = _desk(engine, dovecot)
    dovecot.deliver(address, [email_from(f"c{i}@example.org", f"Case {i}") for i in range(12)])
    with unit_of_work(engine) as db:
        run_id = fetch_runs.request(db, OPERATOR, address).id
        assert db.scalar(select(Mailbox.next_poll_at).where(Mailbox.id == mailbox_id)) is None

    seen: list[tuple[str, int]] = []

    def watch(db: Session) -> None:  # first in each committing transaction: what others see
        with engine.connect() as other:
            row = other.execute(
                select(FetchRun.state, FetchRun.fetched).where(FetchRun.id == run_id)
            ).one()
            seen.append((row.state, row.fetched))

    run = fetching.fetch_mailbox(engine, mailbox_id, fence=watch)
    assert run.error is None and run.fetched == 12
    assert seen[:3] == [("running", 0), ("running", 5), ("running", 10)]
    with unit_of_work(engine) as db:
        done = fetch_runs.present(fetch_runs.get(db, OPERATOR, run_id))
    assert (done["state"], done["fetched"], done["opened"], done["error"]) == ("done", 12, 12, None)
    assert done["finished"] and done["started_at"] and done["finished_at"]


def test_asking_twice_while_a_run_waits_answers_with_the_same_run(
    engine: Engine, dovecot: Dovecot
) -> None:
    address, _ = _desk(engine, dovecot)
    with unit_of_work(engine) as db:
        first = fetch_runs.request(db, OPERATOR, address).id
    with unit_of_work(engine) as db:
        assert fetch_runs.request(db, OPERATOR, address).id == first
    fetching.fetch_once(engine, address)
    with unit_of_work(engine) as db:
        assert fetch_runs.request(db, OPERATOR, address).id != first  # that one has finished


def test_a_fetch_now_asked_while_a_poll_runs_is_not_left_for_the_next_poll(
    engine: Engine, dovecot: Dovecot
) -> None:
    """The poll had claimed no run; the one asked for meanwhile clears the next poll again, so
    the owning worker's heartbeat fetches at once instead of after the poll interval."""
    address, mailbox_id = _desk(engine, dovecot)
    dovecot.deliver(address, [email_from("c@example.org", "Polled")])
    asked: list[int] = []

    def click_fetch_now(db: Session) -> None:  # pressed while the poll commits its batch
        if not asked:
            with unit_of_work(engine) as other:
                asked.append(fetch_runs.request(other, OPERATOR, address).id)

    polled = fetching.fetch_mailbox(engine, mailbox_id, fence=click_fetch_now)
    assert polled.ok and polled.fetched == 1 and polled.progress is None
    with unit_of_work(engine) as db:
        assert db.scalar(select(Mailbox.next_poll_at).where(Mailbox.id == mailbox_id)) is None
        assert fetch_runs.get(db, OPERATOR, asked[0]).state == "waiting"
    assert fetching.fetch_mailbox(engine, mailbox_id).progress == asked[0]
    with unit_of_work(engine) as db:
        assert fetch_runs.get(db, OPERATOR, asked[0]).state == "done"
        assert db.scalar(select(Mailbox.next_poll_at).where(Mailbox.id == mailbox_id)) is not None


def test_a_failed_fetch_is_kept_with_its_error_and_counted_on_its_day(
    database_url: str, engine: Engine, dovecot: Dovecot
) -> None:
    address, mailbox_id = _desk(engine, dovecot, password="wrong-password")
    dovecot.deliver(address, [email_from("c@example.org", "Lost?")])
    [run] = fetching.fetch_once(engine, address)  # nobody asked: recorded because it failed
    assert not run.ok
    with unit_of_work(engine) as db:
        [row] = db.scalars(select(FetchRun).where(FetchRun.mailbox_id == mailbox_id))
        assert row.state == "failed" and row.requested_by is None and row.error
        activity = mailbox_activity.daily(db, OPERATOR)[mailbox_id]
        assert activity.days[-1] == datetime.now(UTC).date()
        assert (activity.failures[-1], sum(activity.failures), sum(activity.messages)) == (1, 1, 0)
        assert mailbox_activity.attention(db, OPERATOR)["failing"] == 1


def test_a_user_fetches_only_their_own_mailboxes(engine: Engine, dovecot: Dovecot) -> None:
    address, _ = _desk(engine, dovecot)
    with unit_of_work(engine) as db:
        ann = users.actor_for(users.add(db, OPERATOR, "ann@example.test", "ann-pass-1"))
    with unit_of_work(engine) as db, pytest.raises(NotFound):
        fetch_runs.request(db, ann, address)
    with unit_of_work(engine) as db:
        run_id = fetch_runs.request(db, OPERATOR, address).id
    with unit_of_work(engine) as db, pytest.raises(NotFound):
        fetch_runs.get(db, ann, run_id)  # another's run reveals nothing, not even that it exists
    with unit_of_work(engine) as db:
        assert fetch_runs.get(db, OPERATOR, run_id).state == "waiting"


def test_messages_are_counted_per_day_in_the_database(
    database_url: str, engine: Engine, dovecot: Dovecot
) -> None:
    address, mailbox_id = _desk(engine, dovecot)
    dovecot.deliver(address, [email_from(f"c{i}@example.org", f"Case {i}") for i in range(3)])
    assert fetching.fetch_once(engine, address)[0].ok
    with unit_of_work(engine) as db:
        nobody = Actor(label="nobody", user_id=-1)
        assert mailbox_activity.daily(db, nobody) == {}  # no mailboxes of theirs
        activity = mailbox_activity.daily(db, OPERATOR)[mailbox_id]
    assert activity.messages[-1] == 3 and sum(activity.messages) == 3
    assert activity.failures == [0] * mailbox_activity.DAYS


def test_in_serve_the_in_process_scheduler_is_woken_at_once(
    postroom_env: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease is 10 minutes, so the next heartbeat (which would notice the cleared next
    poll) is minutes away, and the poll interval an hour: only `fetch_now` fetches in time."""
    monkeypatch.setenv("POSTROOM_WORKER_LEASE", "600")
    get_settings.cache_clear()
    engine = default_engine()
    address = f"desk-{uuid.uuid4().hex[:8]}@example.test"
    dovecot.add_user(address, "desk-pass-1")
    with unit_of_work(engine) as db:
        spec = ServerSpec(
            name="pop", protocol="pop3", host="127.0.0.1", port=dovecot.pop3_port, security="none"
        )
        servers.add(db, OPERATOR, spec)
        workflows.add(db, OPERATOR, "Support", ["New", "Done"])
        mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec(
                address=address,
                incoming="pop",
                system=True,
                password="desk-pass-1",
                workflow="Support",
                poll_interval=3600,
            ),
        )
    token = make_user("admin@example.test", admin=True)
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(workers=True)) as client:
        _until(lambda: _checked(engine, address), "the worker's first look at the mailbox")
        dovecot.deliver(address, [email_from("c@example.org", "Now, please")])
        run = client.post(f"/api/v1/mailboxes/{address}/fetch", headers=headers).json()
        path = f"/api/v1/mailboxes/{address}/fetch/{run['id']}"
        _until(lambda: client.get(path, headers=headers).json()["finished"], "the run's end")
        done = client.get(path, headers=headers).json()
    assert (done["state"], done["fetched"], done["opened"]) == ("done", 1, 1)


def _checked(engine: Engine, address: str) -> bool:
    with unit_of_work(engine) as db:
        return (
            db.scalar(select(Mailbox.last_checked_at).where(Mailbox.address == address)) is not None
        )


def _until(check: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    """Wait on a condition with a deadline, looking every tenth of a second."""
    deadline = time.monotonic() + seconds
    pause = threading.Event()
    while not check():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        pause.wait(0.1)
