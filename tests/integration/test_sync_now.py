"""Sync now (the console's button) runs the pass here and at once, workers or not: the pass lock
keeps it from pushing a record a worker's pass is pushing (test_sync_lock.py); a mailbox that is
not the actor's is not found, and one that syncs nothing says to switch a kind on."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from postroom.errors import InvalidInput, NotFound
from postroom.services import sync_status, users
from postroom.services.actors import OPERATOR
from postroom.storage.db import unit_of_work
from postroom.storage.models import Worker, utcnow
from tests.conftest import Cli
from tests.integration.test_sync_dav import _mailbox, _server_emails, radicale
from tests.servers.radicale import Radicale

__all__ = ["radicale"]


def test_sync_now_runs_here_while_workers_run_and_only_for_whom_the_mailbox_is(
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

    ran = sync_status.sync_now(engine, OPERATOR, ann)

    assert [(r.kind, r.ok, r.pushed, r.skipped) for r in ran] == [
        ("contacts", True, 1, None),
        ("calendar", True, 0, None),
    ]
    assert _server_emails(radicale, "ann") == ["kim@x.example"]
    assert cli("mailbox", "edit", ann, "--sync", "none").code == 0
    with pytest.raises(InvalidInput, match="switch one on first"):
        sync_status.sync_now(engine, OPERATOR, ann)
