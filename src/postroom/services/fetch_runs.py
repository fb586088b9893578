"""Fetch now: a person asks for a mailbox to be fetched, and watches it happen.

The request is a `fetch_runs` row (waiting) plus the mailbox's cleared next poll, so whichever
worker owns the mailbox, in whatever process, fetches it (as a push notification wakes it).
The fetch claims the row, adds each batch's counts in the transaction that commits the batch,
and writes the result at the end: the progress shown is what is stored, never an estimate.
A failed fetch leaves a row too, even unasked: the health chart counts them per day.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from postroom.domain.settings import MailboxState
from postroom.errors import InvalidInput, NotFound
from postroom.inbound.pipeline import BatchResult
from postroom.services import audit, mailboxes
from postroom.services.actors import Actor
from postroom.storage.models import FetchRun, Mailbox, aware, utcnow

UNFINISHED = ("waiting", "running")
KEPT = timedelta(days=31)  # the health chart shows 30 days


def request(
    db: Session, actor: Actor, address: str, owner: str | None = None, *, system: bool = False
) -> FetchRun:
    """Ask for a fetch now; asking again while one waits or runs answers with that one.
    Administrators may fetch any mailbox, a user only their own (`system`: the system
    mailbox of that address, as the system mailboxes page means)."""
    if system:
        mailbox = mailboxes.get_system(db, actor, address)
    else:
        mailbox = mailboxes.get_for(db, actor, address, owner)
    if mailbox.incoming_server is None or not mailbox.receive_enabled:
        raise InvalidInput(
            f"{mailbox.address} does not receive: give it an incoming server and switch "
            "receiving on first."
        )
    if mailbox.state == MailboxState.DISABLED.value:
        raise InvalidInput(f"{mailbox.address} is disabled: reconnect it first.")
    current = db.scalar(
        select(FetchRun)
        .where(FetchRun.mailbox_id == mailbox.id, FetchRun.state.in_(UNFINISHED))
        .order_by(FetchRun.id.desc())
    )
    if current is not None:
        return current
    run = FetchRun(mailbox_id=mailbox.id, requested_by=actor.label, state="waiting")
    db.add(run)
    mailbox.next_poll_at = None  # the owning worker's heartbeat notices it (workers/ownership.py)
    db.flush()
    audit.record(db, actor, "mailbox.fetch-requested", mailbox.address, run=run.id)
    return run


def get(db: Session, actor: Actor, run_id: int) -> FetchRun:
    """A run of a mailbox the actor manages; any other is not found, as everywhere."""
    theirs = select(mailboxes.visible_to(actor).with_only_columns(Mailbox.id).subquery())
    run = db.scalar(select(FetchRun).where(FetchRun.id == run_id, FetchRun.mailbox_id.in_(theirs)))
    if run is None:
        raise NotFound(f"No fetch run {run_id} among your mailboxes' runs.")
    return run


def present(run: FetchRun, address: str | None = None) -> dict[str, Any]:
    return {
        "id": run.id,
        "mailbox": address,
        "state": run.state,
        "finished": run.state not in UNFINISHED,
        "fetched": run.fetched,
        "opened": run.opened,
        "held": run.held,
        "failures": run.failures,
        "error": run.error,
        "requested_by": run.requested_by,
        "requested_at": aware(run.requested_at).isoformat(),
        "started_at": aware(run.started_at).isoformat() if run.started_at else None,
        "finished_at": aware(run.finished_at).isoformat() if run.finished_at else None,
    }


def address_of(db: Session, run: FetchRun) -> str:
    return db.scalar(select(Mailbox.address).where(Mailbox.id == run.mailbox_id)) or ""


# ------------------------------------------------------------ the fetch's side (fetching.py)


def claim(db: Session, mailbox_id: int) -> int | None:
    """The asked-for run this fetch carries out, if any; a run left running by a worker that
    died is taken over by the next fetch of its mailbox."""
    run_id = db.scalar(
        select(FetchRun.id)
        .where(FetchRun.mailbox_id == mailbox_id, FetchRun.state.in_(UNFINISHED))
        .order_by(FetchRun.id)
        .limit(1)
    )
    if run_id is not None:
        db.execute(
            update(FetchRun)
            .where(FetchRun.id == run_id)
            .values(state="running", started_at=utcnow(), fetched=0, opened=0, held=0)
        )
    return run_id


def asked(db: Session, mailbox_id: int) -> bool:
    """A run still waits at the end of a fetch: it was asked for after this fetch claimed
    (or found none), so the mail it wants may have come after; the next fetch carries it."""
    waiting = select(FetchRun.id).where(
        FetchRun.mailbox_id == mailbox_id, FetchRun.state == "waiting"
    )
    return db.scalar(waiting.limit(1)) is not None


def count_batch(db: Session, run_id: int, fetched: int, result: BatchResult) -> None:
    """In the batch's own transaction: the counts rise exactly when the mail is committed."""
    db.execute(
        update(FetchRun)
        .where(FetchRun.id == run_id)
        .values(
            fetched=FetchRun.fetched + fetched,
            opened=FetchRun.opened + result.opened,
            held=FetchRun.held + result.held,
        )
    )


def finish(
    db: Session,
    mailbox_id: int,
    progress: int | None,
    *,
    fetched: int,
    result: BatchResult,
    error: str | None,
    started_at: datetime,
) -> None:
    """The run's result (`error` None: it worked); a failed fetch nobody asked for is recorded
    too (the chart's failures). Rows past the chart's 30 days go at the same time."""
    values = {
        "state": "done" if error is None else "failed",
        "fetched": fetched,
        "opened": result.opened,
        "held": result.held,
        "failures": result.held_reasons.get("failed", 0),
        "error": error,
        "finished_at": utcnow(),
    }
    if progress is not None:
        db.execute(update(FetchRun).where(FetchRun.id == progress).values(**values))
    elif error is not None:
        db.add(FetchRun(mailbox_id=mailbox_id, started_at=started_at, **values))
    else:
        return
    db.execute(
        delete(FetchRun).where(
            FetchRun.mailbox_id == mailbox_id, FetchRun.requested_at < utcnow() - KEPT
        )
    )
