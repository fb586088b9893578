"""Sync now (the console's button): with no worker running it runs the pass at once; while
workers run it only makes the mailbox's kinds due, so a worker's pass and this one never push
the same record side by side; a mailbox that is not the actor's is not found."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete, select

from postroom.errors import NotFound
from postroom.services import sync_status, users
from postroom.services.actors import OPERATOR
from postroom.storage.db import unit_of_work
from postroom.storage.models import Contact, SyncState, Worker, aware, utcnow
from tests.conftest import Cli
from tests.integration.test_sync_dav import _mailbox, _server_emails, radicale
from tests.servers.radicale import Radicale

__all__ = ["radicale"]


def test_sync_now_runs_here_without_workers_and_asks_them_while_they_run(
    cli: Cli, radicale: Radicale, engine: Engine
) -> None:
    ann = _mailbox(cli, radicale, "ann")
    assert (
        cli("contact", "add", "--mailbox", ann, "--email", "kim@x.example", "--name", "K").code == 0
    )
    with unit_of_work(engine) as db:
        db.add(Worker(name="worker-1", heartbeat_at=utcnow()))
        eve = users.actor_for(users.add(db, OPERATOR, "eve@example.test", "eve-pass-123"))
    with pytest.raises(NotFound), unit_of_work(engine):
        sync_status.sync_now(engine, eve, ann)

    asked = sync_status.sync_now(engine, OPERATOR, ann)

    assert asked.queued and asked.runs == []
    with unit_of_work(engine) as db:
        due = [aware(s.next_run_at) for s in db.scalars(select(SyncState)) if s.next_run_at]
        assert len(due) == 2 and all(when <= utcnow() for when in due)
        assert db.scalar(select(Contact.pending)) is True
    assert _server_emails(radicale, "ann") == []

    with unit_of_work(engine) as db:
        db.execute(delete(Worker))
    ran = sync_status.sync_now(engine, OPERATOR, ann)

    assert not ran.queued and [(r.kind, r.ok, r.pushed) for r in ran.runs] == [
        ("contacts", True, 1),
        ("calendar", True, 0),
    ]
    assert _server_emails(radicale, "ann") == ["kim@x.example"]
