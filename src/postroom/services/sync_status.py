"""Where a mailbox's contacts and calendar sync stands, and "Sync now": for the console's sync
page. The switches and the DAV URL change through mailbox_edits like every other field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from postroom.config import get_settings
from postroom.errors import InvalidInput
from postroom.services import mailboxes, sync_runs
from postroom.services.actors import Actor
from postroom.services.sync_runs import SyncRun
from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox, SyncState, Worker, aware, utcnow


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


@dataclass
class SyncNow:
    runs: list[SyncRun]  # the passes run here
    queued: bool = False  # handed to the running workers instead


def sync_now(engine: Engine, actor: Actor, address: str) -> SyncNow:
    """One pass of each kind switched on, now; the rights are checked before anything runs.
    While workers run, they are asked (the kinds are made due at once), so two passes never
    push the same record side by side; without workers (CLI-only setups) the pass runs here,
    committing its own pages as a worker's does, so no transaction spans the network."""
    now = utcnow()
    with unit_of_work(engine) as db:
        mailbox = mailboxes.get_for(db, actor, address)
        mailbox_id, kinds = mailbox.id, sync_runs.kinds_of(mailbox)
        if not kinds:
            raise InvalidInput(
                f"{address} syncs neither contacts nor a calendar: switch one on first.",
                field="sync",
            )
        alive = now - timedelta(seconds=get_settings().worker_lease)
        if db.scalar(select(Worker.id).where(Worker.heartbeat_at >= alive).limit(1)):
            for kind in kinds:
                sync_runs.state_of(db, mailbox_id, kind).next_run_at = now
            return SyncNow([], queued=True)
    return SyncNow([sync_runs.sync_mailbox(engine, mailbox_id, kind) for kind in kinds])


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
