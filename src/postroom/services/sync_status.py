"""Where a mailbox's contacts and calendar sync stands, and "Sync now": for the console's sync
page. The switches and the DAV URL change through mailbox_edits like every other field."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from postroom.errors import InvalidInput
from postroom.services import mailboxes, sync_runs
from postroom.services.actors import Actor
from postroom.services.sync_runs import SyncRun
from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox, SyncState, aware


def status(db: Session, actor: Actor, address: str) -> dict[str, Any]:
    mailbox = mailboxes.get_for(db, actor, address)
    states = {
        s.kind: s for s in db.scalars(select(SyncState).where(SyncState.mailbox_id == mailbox.id))
    }
    kinds = []
    for kind, on in zip(
        sync_runs.KINDS, (mailbox.sync_contacts, mailbox.sync_calendar), strict=True
    ):
        state = states.get(kind)
        kinds.append(
            {
                "kind": kind,
                "on": on,
                "last_success": _iso(state.last_success_at) if state else None,
                "last_error": state.last_error if state else None,
                "last_error_at": _iso(state.last_error_at) if state else None,
                "next_run": _iso(state.next_run_at) if state and on else None,
                "failures": state.failures if state else 0,
            }
        )
    return {
        "address": mailbox.address,
        "system": mailbox.owner_id is None,
        "dav": mailbox.oauth_app_id is None,
        "dav_url": mailbox.dav_url or "",
        "kinds": kinds,
    }


def sync_now(engine: Engine, actor: Actor, address: str) -> list[SyncRun]:
    """One pass of each kind switched on, now, here; the rights are checked before anything
    runs. A kind a worker (or `sync --once`) is syncing at this moment is skipped and says so:
    the pass lock keeps two from pushing the same record side by side. Each pass commits its
    own pages as a worker's does, so no transaction spans the network."""
    with unit_of_work(engine) as db:
        mailbox = mailboxes.get_for(db, actor, address)
        mailbox_id, kinds = mailbox.id, sync_runs.kinds_of(mailbox)
        if not kinds:
            raise InvalidInput(
                f"{address} syncs neither contacts nor a calendar: switch one on first.",
                field="sync",
            )
    return [sync_runs.sync_mailbox(engine, mailbox_id, kind) for kind in kinds]


def calendar_mailboxes(db: Session, actor: Actor) -> list[str]:
    """The mailboxes an activity can go to: the actor's, with their calendar synced."""
    query = mailboxes.visible_to(actor).where(Mailbox.sync_calendar)
    return [m.address for m in db.scalars(query.order_by(Mailbox.address))]


def _iso(moment: Any) -> str | None:
    return aware(moment).isoformat(timespec="seconds") if moment else None


def address_of(db: Session, mailbox_id: int) -> str:
    """The mailbox of a record the actor was already allowed to see (contacts.get)."""
    mailbox = db.get(Mailbox, mailbox_id)
    return mailbox.address if mailbox is not None else ""
