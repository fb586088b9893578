"""One sync pass of a mailbox's contacts or calendar, both ways.

1. Pull: page after page of what changed on the account since the cursor. Each page's records
   and the cursor after it are committed in one transaction (fenced like a fetched batch), so a
   crash repeats at most one page, deduplicated by remote id. A cursor the account dropped
   starts a full listing; when it ends, what it did not bring is deleted (records with changes
   still to push are kept: they go to the account again).
2. Push: each record changed in postroom (pending) is written with the etag it was based on.
   When the account changed it too, the account wins on the record and postroom's version goes
   to the record's history. A record created on the account whose creation was never noted (a
   crash between the two) comes back in the next pull and is recognised, not doubled.
A failing account writes its error and backoff on its own sync state and nothing else.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from postroom.domain.endpoints import Credentials
from postroom.errors import AuthFailed, LeaseLost, NotFound, PostroomError
from postroom.services import sync_records, tokens
from postroom.services.credentials import credentials_of
from postroom.services.servers import endpoint_of
from postroom.services.sync_records import Row
from postroom.storage import process_locks
from postroom.storage.db import unit_of_work
from postroom.storage.models import Activity, Contact, Mailbox, SyncState, aware, utcnow
from postroom.sync import registry
from postroom.sync.source import CursorExpired, EditConflict, RemoteRecord, SyncSource

log = logging.getLogger(__name__)

KINDS = ("contacts", "calendar")
INTERVAL = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=6)
DELETE_LOST = "deleted here while changed on the account: the account's version was kept"
BUSY = "being synced by another process"
MAX_PAGES = 1000  # a source that never says "no more" stops here; the next pass goes on
Fence = Callable[[Session], None]
Opener = Callable[..., SyncSource]


def unfenced(db: Session) -> None:
    """`sync --once` and tests: no other worker to defer to."""


@dataclass
class SyncRun:
    address: str
    kind: str
    ok: bool = True
    pulled: int = 0
    pushed: int = 0
    conflicts: int = 0
    deleted: int = 0
    error: str | None = None
    failure: str | None = None
    skipped: str | None = None  # why this pass did not run (it is not a failure)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def kinds_of(mailbox: Mailbox) -> list[str]:
    return [
        k for k, on in zip(KINDS, (mailbox.sync_contacts, mailbox.sync_calendar), strict=True) if on
    ]


def sync_once(engine: Engine, address: str | None = None) -> list[SyncRun]:
    """Every syncing mailbox (or one), each kind once, one after another; for the CLI."""
    with unit_of_work(engine) as db:
        query = select(Mailbox).where(or_(Mailbox.sync_contacts, Mailbox.sync_calendar))
        if address is not None:
            found = list(db.scalars(select(Mailbox).where(Mailbox.address == address.lower())))
            if not found:
                raise NotFound(f"No mailbox {address}: `postroom mailbox list` shows them.")
            query = query.where(Mailbox.address == address.lower())
        targets = [(m.id, k) for m in db.scalars(query.order_by(Mailbox.id)) for k in kinds_of(m)]
    return [sync_mailbox(engine, mailbox_id, kind) for mailbox_id, kind in targets]


@dataclass(frozen=True)
class Due:
    mailbox_id: int
    kind: str
    epoch: int | None  # the fetch lease's epoch to fence with; None: no worker fetches it


def due(engine: Engine, owner: str, unleased: Callable[[int], bool]) -> list[Due]:
    """What `owner` (a worker) syncs now: mailboxes it holds the fetch lease of, and mailboxes
    no worker fetches (they do not receive) that `unleased` gives it, each once its kind's
    next run has come."""
    now = utcnow()
    with unit_of_work(engine) as db:
        rows = db.execute(
            select(
                Mailbox.id,
                Mailbox.lease_owner,
                Mailbox.lease_epoch,
                Mailbox.sync_contacts,
                Mailbox.sync_calendar,
            ).where(or_(Mailbox.sync_contacts, Mailbox.sync_calendar))
        ).all()
        states = {
            (s.mailbox_id, s.kind): s.next_run_at
            for s in db.scalars(
                select(SyncState).where(SyncState.mailbox_id.in_([r[0] for r in rows]))
            )
        }
    found = []
    for mailbox_id, holder, epoch, contacts, calendar in rows:
        if holder == owner:
            fence_epoch: int | None = epoch
        elif holder is None and unleased(mailbox_id):
            fence_epoch = None
        else:
            continue
        for kind, on in zip(KINDS, (contacts, calendar), strict=True):
            when = states.get((mailbox_id, kind))
            if on and (when is None or aware(when) <= now):
                found.append(Due(mailbox_id, kind, fence_epoch))
    return found


def pass_lock(mailbox_id: int, kind: str) -> str:
    return f"sync-{mailbox_id}-{kind}"


def sync_mailbox(
    engine: Engine,
    mailbox_id: int,
    kind: str,
    fence: Fence = unfenced,
    opener: Opener = registry.open_source,
) -> SyncRun:
    """One pass, while no other process (a worker, `serve`, `sync --once`) runs one of the same
    mailbox and kind: two side by side would both push the same pending record, and the
    account would get it twice. The lock dies with its process, so a killed pass never holds
    up the next one."""
    with process_locks.held(engine, pass_lock(mailbox_id, kind)) as mine:
        if mine:
            return _sync_mailbox(engine, mailbox_id, kind, fence, opener)
    with unit_of_work(engine) as db:
        mailbox = db.get(Mailbox, mailbox_id)
        if mailbox is None:
            raise NotFound(f"No mailbox {mailbox_id}.")
        log.info("%s of %s: %s, skipped", kind, mailbox.address, BUSY)
        return SyncRun(mailbox.address, kind, skipped=BUSY)


def _sync_mailbox(
    engine: Engine, mailbox_id: int, kind: str, fence: Fence, opener: Opener
) -> SyncRun:
    with unit_of_work(engine) as db:
        mailbox = db.get(Mailbox, mailbox_id)
        if mailbox is None:
            raise NotFound(f"No mailbox {mailbox_id}.")
        run = SyncRun(mailbox.address, kind)
        server = mailbox.incoming_server or mailbox.outgoing_server
        dav_url = mailbox.dav_url
        oauth = mailbox.oauth_app_id is not None
        credentials = None if oauth or server is None else credentials_of(mailbox, server)
        endpoint = endpoint_of(server) if server is not None else None
        _state(db, mailbox_id, kind)

    def both_ways(given: Credentials) -> None:
        assert endpoint is not None
        source = opener(endpoint, given, kind, dav_url)
        try:
            _pull(engine, mailbox_id, kind, source, fence, run)
            _push(engine, mailbox_id, kind, source, fence, run)
        finally:
            source.close()

    try:
        if endpoint is None:
            raise NotFound(f"{run.address} has no server whose account could be synced.")
        if oauth:
            # An access token the provider refuses is renewed once, as mail fetching does;
            # the pass then starts again from its committed cursor.
            given = tokens.credentials(engine, mailbox_id)
            tokens.with_renewal(engine, mailbox_id, given, both_ways)
        elif credentials is None:
            raise AuthFailed(f"{run.address} has no password: reconnect it with one.")
        else:
            both_ways(credentials)
    except LeaseLost as exc:  # another worker owns the mailbox now: its state is theirs
        run.ok, run.error, run.failure = False, str(exc), exc.code
        return run
    except PostroomError as exc:
        run.ok, run.error, run.failure = False, str(exc), exc.code
        log.warning("syncing %s of %s failed: %s", kind, run.address, exc)
    _settle(engine, mailbox_id, kind, run)
    return run


# ---------------------------------------------------------------------------- pull


def _model(kind: str) -> type[Contact]:
    """Contact or Activity: typed as Contact because the queries here use only the columns
    both have (mailbox_id, remote_id, etag, pending, synced_at)."""
    return cast(type[Contact], sync_records.model_of(kind))


def _pull(
    engine: Engine, mailbox_id: int, kind: str, source: SyncSource, fence: Fence, run: SyncRun
) -> None:
    with unit_of_work(engine) as db:
        cursor = _state(db, mailbox_id, kind).cursor
    for _ in range(MAX_PAGES):
        try:
            page = source.changes(cursor)
        except CursorExpired:
            log.info("%s of %s: the account dropped the cursor, listing all", kind, run.address)
            cursor = None
            page = source.changes(None)
        with unit_of_work(engine) as db:
            fence(db)
            state = _state(db, mailbox_id, kind)
            if cursor is None or (page.full and state.full_since is None):
                # A full listing starts (a first sync, a reset, or a server listed in full
                # each pass, without sync-collection): it marks what it brings.
                state.full_since = utcnow()
            for record in page.records:
                _take(db, mailbox_id, kind, record, run)
            state.cursor = page.cursor
            if not page.more and state.full_since is not None:
                since = aware(state.full_since)
                run.deleted += _lacking(db, mailbox_id, kind, since, page.window)
                state.full_since = None
        cursor = page.cursor
        if not page.more:
            return


def _take(db: Session, mailbox_id: int, kind: str, record: RemoteRecord, run: SyncRun) -> None:
    model = _model(kind)
    row: Row | None = db.scalar(
        select(model).where(model.mailbox_id == mailbox_id, model.remote_id == record.remote_id)
    )
    if record.data is None:
        if row is not None:
            if row.pending and not row.deleting:
                sync_records.keep_losing(db, row, "deleted on the account while changed here")
                run.conflicts += 1
            sync_records.changed(db, row, "account", deleted=True)
            db.delete(row)
            run.deleted += 1
        return
    if row is None:
        row = _orphan(db, mailbox_id, kind, record)
        if row is not None and row.deleting:  # created, then deleted here: the push deletes it
            row.remote_id, row.etag, row.synced_at = record.remote_id, record.etag, utcnow()
            return
    if row is None:
        row = model(mailbox_id=mailbox_id, remote_id=record.remote_id, pending=False)
        db.add(row)
    elif row.etag == record.etag and row.remote_id == record.remote_id:
        row.synced_at = utcnow()  # unchanged (a repeated page, or a full listing)
        return
    elif row.deleting:  # deleted here, changed there: the account's version is kept
        sync_records.keep_losing(db, row, DELETE_LOST)
        row.deleting = False
        run.conflicts += 1
    elif row.pending and sync_records.data_of(row) != record.data:
        sync_records.keep_losing(db, row, "changed on both sides: the account's version won")
        run.conflicts += 1
    sync_records.apply(row, record.data)
    row.remote_id, row.etag, row.pending, row.synced_at = (
        record.remote_id,
        record.etag,
        False,
        utcnow(),
    )
    db.flush()
    sync_records.changed(db, row, "account")
    run.pulled += 1


def _orphan(db: Session, mailbox_id: int, kind: str, record: RemoteRecord) -> Row | None:
    """A record created here and written to the account, whose remote id was never noted."""
    assert record.data is not None
    model = _model(kind)
    waiting = db.scalars(
        select(model).where(
            model.mailbox_id == mailbox_id, model.remote_id.is_(None), model.pending
        )
    )
    for row in waiting:
        if sync_records.same_record(sync_records.data_of(row), record.data):
            return row
    return None


def _lacking(
    db: Session,
    mailbox_id: int,
    kind: str,
    since: datetime,
    window: tuple[datetime, datetime] | None = None,
) -> int:
    """After a full listing: records it did not bring are gone from the account. A listing
    of a window of start times speaks only for the records starting inside it."""
    model = _model(kind)
    query = select(model).where(
        model.mailbox_id == mailbox_id,
        model.remote_id.is_not(None),
        or_(model.synced_at.is_(None), model.synced_at < since),
    )
    if window is not None and sync_records.model_of(kind) is Activity:
        query = query.where(Activity.starts_at >= window[0], Activity.starts_at < window[1])
    gone = list(db.scalars(query))
    for row in gone:
        if row.pending and not row.deleting:  # changed here: back to the account as new
            row.remote_id, row.etag = None, None
            continue
        sync_records.changed(db, row, "account", deleted=True)
        db.delete(row)
    return sum(1 for row in gone if row.deleting or not row.pending)


# ---------------------------------------------------------------------------- push


def _push(
    engine: Engine, mailbox_id: int, kind: str, source: SyncSource, fence: Fence, run: SyncRun
) -> None:
    model = _model(kind)
    with unit_of_work(engine) as db:
        waiting = [
            (row.id, row.remote_id, row.etag, row.deleting, sync_records.data_of(row))
            for row in db.scalars(
                select(model)
                .where(model.mailbox_id == mailbox_id, model.pending)
                .order_by(model.id)
            )
        ]
    for row_id, remote_id, etag, deleting, data in waiting:
        if deleting:
            _push_delete(engine, model, row_id, remote_id, etag, source, fence, run)
            continue
        conflict: RemoteRecord | None = None
        try:
            if remote_id is None:
                written = source.create(data)
            else:
                written = source.update(remote_id, etag or "", data)
        except EditConflict as exc:
            conflict, written = exc.current, exc.current
        with unit_of_work(engine) as db:
            fence(db)
            row = db.get(model, row_id)
            if row is None:
                continue
            if conflict is not None:
                _lost(db, row, conflict, run)
                continue
            row.remote_id, row.etag, row.synced_at = written.remote_id, written.etag, utcnow()
            # Edited again while this was written: stays pending, with the etag it now has.
            row.pending = sync_records.data_of(row) != data
            run.pushed += 1


def _push_delete(
    engine: Engine,
    model: type[Contact],
    row_id: int,
    remote_id: str | None,
    etag: str | None,
    source: SyncSource,
    fence: Fence,
    run: SyncRun,
) -> None:
    """A record deleted here: deleted on the account only if it still holds the version the
    deletion was based on; the row goes once the account has said so. A crash between the two
    repeats the delete, which finds it gone: what was asked."""
    current: RemoteRecord | None = None
    if remote_id is not None:
        try:
            source.delete(remote_id, etag or "")
        except EditConflict as exc:
            current = exc.current
    with unit_of_work(engine) as db:
        fence(db)
        row = db.get(model, row_id)
        if row is None or not row.deleting:
            return
        if current is not None and current.data is not None:
            sync_records.keep_losing(db, row, DELETE_LOST)
            run.conflicts += 1
            sync_records.apply(row, current.data)
            row.remote_id, row.etag, row.synced_at = current.remote_id, current.etag, utcnow()
            row.pending = row.deleting = False
            db.flush()
            sync_records.changed(db, row, "account")
            return
        db.delete(row)
        run.deleted += 1


def _lost(db: Session, row: Row, current: RemoteRecord, run: SyncRun) -> None:
    """The account changed (or deleted) the record meanwhile: it wins, ours goes to history."""
    run.conflicts += 1
    if current.data is None:
        sync_records.keep_losing(db, row, "deleted on the account while changed here")
        sync_records.changed(db, row, "account", deleted=True)
        db.delete(row)
        return
    if sync_records.data_of(row) != current.data:
        sync_records.keep_losing(db, row, "changed on both sides: the account's version won")
    sync_records.apply(row, current.data)
    row.remote_id, row.etag, row.pending, row.synced_at = (
        current.remote_id,
        current.etag,
        False,
        utcnow(),
    )
    db.flush()
    sync_records.changed(db, row, "account")


# ---------------------------------------------------------------------------- state


def state_of(db: Session, mailbox_id: int, kind: str) -> SyncState:
    """The mailbox's sync state of a kind, made when first asked for."""
    return _state(db, mailbox_id, kind)


def _state(db: Session, mailbox_id: int, kind: str) -> SyncState:
    state = db.scalar(
        select(SyncState).where(SyncState.mailbox_id == mailbox_id, SyncState.kind == kind)
    )
    if state is None:
        state = SyncState(mailbox_id=mailbox_id, kind=kind, failures=0)
        db.add(state)
        db.flush()
    return state


def _settle(engine: Engine, mailbox_id: int, kind: str, run: SyncRun) -> None:
    """The pass's outcome on this mailbox's sync state only; a failure backs off."""
    now = utcnow()
    jitter = random.uniform(0.9, 1.1)
    with unit_of_work(engine) as db:
        state = _state(db, mailbox_id, kind)
        if run.ok:
            state.failures, state.last_error = 0, None
            state.last_success_at = now
            state.next_run_at = now + INTERVAL * jitter
        else:
            state.failures += 1
            state.last_error, state.last_error_at = run.error, now
            backoff = min(INTERVAL * 2 ** min(state.failures, 10), MAX_BACKOFF)
            state.next_run_at = now + backoff * jitter
