"""Fetch and process everything waiting in the receiving mailboxes.

Per batch: fetch, then one transaction stores the raw bytes with their outcome and moves the
cursor, then (and only then) the server is told. A crash anywhere leaves mail either on the
server or committed; a committed-but-unacknowledged message is recognised by its key next time
and only acknowledged.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from postroom.config import get_settings
from postroom.connectors.base import AfterImport, Connector, Cursor, Listing
from postroom.connectors.registry import open_receiver
from postroom.domain.settings import MailboxState
from postroom.errors import AuthFailed, NeedsReconnect, NotFound, PostroomError, TokenRejected
from postroom.inbound.pipeline import BatchResult, ingest
from postroom.metrics import events as metrics
from postroom.services import bounces, events, tokens
from postroom.services.acknowledgements import Acknowledger
from postroom.services.connection_tests import credentials_of, endpoint_of
from postroom.storage.db import unit_of_work
from postroom.storage.models import FetchCursor, Mailbox, Message, utcnow

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)


@dataclass
class MailboxRun:
    address: str
    ok: bool = True
    fetched: int = 0
    acknowledged: int = 0
    result: BatchResult = field(default_factory=BatchResult)
    error: str | None = None
    failure: str | None = None  # the error's code: "auth-failed", "transient", "unreachable"
    protocol: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "mailbox": self.address,
            "ok": self.ok,
            "fetched": self.fetched,
            "opened": self.result.opened,
            "threaded": self.result.threaded,
            "held": self.result.held,
            "duplicates": self.result.duplicates,
            "held_reasons": dict(self.result.held_reasons),
            "error": self.error,
        }


def receiving_mailboxes(db: Session, address: str | None = None) -> list[int]:
    query = select(Mailbox.id).where(
        Mailbox.receive_enabled,
        Mailbox.incoming_server_id.is_not(None),
        Mailbox.state != MailboxState.DISABLED.value,
    )
    if address is not None:
        query = query.where(Mailbox.address == address.strip().lower())
    ids = list(db.scalars(query.order_by(Mailbox.id)))
    if address is not None and not ids:
        raise NotFound(f"No receiving mailbox {address}: `postroom mailbox list` shows them.")
    return ids


def fetch_once(engine: Engine, address: str | None = None) -> list[MailboxRun]:
    """Every receiving mailbox in turn; one failing mailbox never stops the others."""
    with unit_of_work(engine) as db:
        ids = receiving_mailboxes(db, address)
    return [fetch_mailbox(engine, mailbox_id) for mailbox_id in ids]


def _own_addresses(db: Session) -> frozenset[str]:
    return frozenset(db.scalars(select(Mailbox.address)))


def _cursor_row(db: Session, mailbox: Mailbox) -> FetchCursor:
    row = db.scalar(
        select(FetchCursor).where(
            FetchCursor.mailbox_id == mailbox.id, FetchCursor.folder == mailbox.folder
        )
    )
    if row is None:
        row = FetchCursor(mailbox_id=mailbox.id, folder=mailbox.folder, last_uid=0)
        db.add(row)
    return row


def known_keys(db: Session, mailbox_id: int, keys: list[str]) -> set[str]:
    """Which of these remote keys are stored for the mailbox."""
    known: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        known.update(
            db.scalars(
                select(Message.remote_key).where(
                    Message.mailbox_id == mailbox_id, Message.remote_key.in_(chunk)
                )
            )
        )
    return known


def fetch_mailbox(engine: Engine, mailbox_id: int) -> MailboxRun:
    started = time.perf_counter()
    with unit_of_work(engine) as db:
        mailbox = db.get(Mailbox, mailbox_id)
        assert mailbox is not None and mailbox.incoming_server is not None
        run = MailboxRun(mailbox.address, protocol=mailbox.incoming_server.protocol)
        endpoint = endpoint_of(mailbox.incoming_server)
        oauth = mailbox.oauth_app_id is not None
        credentials = None if oauth else credentials_of(mailbox, mailbox.incoming_server)
        action = AfterImport.parse(mailbox.after_import)
        row = _cursor_row(db, mailbox)
        cursor = Cursor(row.folder, row.validity, row.last_uid, row.token)
    try:
        if oauth:  # never a password: a mailbox that signs in with OAuth2 has none to use
            credentials = tokens.credentials(engine, mailbox_id)
        if credentials is None:
            raise AuthFailed(f"{run.address} has no password: reconnect it with one.")
        tokens.with_renewal(
            engine,
            mailbox_id,
            credentials,
            lambda given: _fetch(
                engine, mailbox_id, run, open_receiver(endpoint, given), action, cursor
            ),
        )
    except PostroomError as exc:
        run.ok, run.error, run.failure = False, str(exc), exc.code
        log.warning("fetching %s failed: %s", run.address, exc)
    _record(engine, mailbox_id, run)
    metrics.fetch_run(
        mailbox_id,
        run.protocol,
        "ok" if run.ok else run.failure or "failed",
        time.perf_counter() - started,
        run.fetched,
        run.result.opened,
        run.result.threaded,
        dict(run.result.held_reasons),
    )
    return run


def _fetch(
    engine: Engine,
    mailbox_id: int,
    run: MailboxRun,
    connector: Connector,
    action: AfterImport,
    cursor: Cursor,
) -> None:
    """List, then per batch: fetch, commit, acknowledge; the provider's cursor is saved last,
    once every message it covers is committed."""
    try:
        listing = connector.list_waiting(cursor, action)
        take(engine, mailbox_id, run, connector, action, listing)
        with unit_of_work(engine) as db:
            mailbox = db.get(Mailbox, mailbox_id)
            assert mailbox is not None
            row = _cursor_row(db, mailbox)
            _advance(row, listing.cursor, [])
            row.token = listing.cursor.token
    finally:
        try:
            connector.close()
        except PostroomError as exc:
            run.ok, run.error = False, str(exc)


def take(
    engine: Engine,
    mailbox_id: int,
    run: MailboxRun,
    connector: Connector,
    action: AfterImport,
    listing: Listing,
) -> None:
    """Import the listed keys not stored yet, batch by batch, each committed before the
    server is told; keys stored earlier are only acknowledged. Backfills use it too."""
    batch_size = get_settings().fetch_batch_size
    with unit_of_work(engine) as db:
        known = known_keys(db, mailbox_id, listing.keys)
    leftovers = [k for k in listing.keys if k in known]
    connector.acknowledge(leftovers, action)  # committed earlier, not yet acknowledged
    run.acknowledged += len(leftovers)
    waiting = [k for k in listing.keys if k not in known]
    for start in range(0, len(waiting), batch_size):
        keys = waiting[start : start + batch_size]
        fetched = connector.fetch(keys)
        with unit_of_work(engine) as db:
            mailbox = db.get(Mailbox, mailbox_id)
            assert mailbox is not None
            own = _own_addresses(db)
            acknowledge = Acknowledger(db, mailbox, own) if Acknowledger.wanted(mailbox) else None
            batch = ingest(
                db,
                mailbox,
                fetched,
                own,
                on_open=acknowledge,
                on_bounce=partial(bounces.record, db),
                on_stored=partial(events.messages_stored, db),
            )
            run.result.add(batch)
            _advance(_cursor_row(db, mailbox), listing.cursor, keys)
        metrics.delivered(run.protocol, batch.arrivals)  # committed: these are requests now
        connector.acknowledge([m.key for m in fetched], action)
        run.fetched += len(fetched)


def _advance(row: FetchCursor, cursor: Cursor, keys: list[str]) -> None:
    if row.validity != cursor.validity:
        row.validity, row.last_uid = cursor.validity, 0
    uids = [int(k.rsplit(":", 1)[1]) for k in keys if k.startswith("imap:")]
    if uids:
        row.last_uid = max(row.last_uid, *uids)


def _record(engine: Engine, mailbox_id: int, run: MailboxRun) -> None:
    """The state the console shows; failures back off exponentially with jitter."""
    with unit_of_work(engine) as db:
        mailbox = db.get(Mailbox, mailbox_id)
        if mailbox is None:
            return
        before = mailbox.state
        _schedule(mailbox, run)
        events.mailbox_state_changed(db, mailbox, before)


def _schedule(mailbox: Mailbox, run: MailboxRun) -> None:
    now = utcnow()
    mailbox.last_checked_at = now
    if run.ok:
        mailbox.state, mailbox.last_error, mailbox.failures = MailboxState.OK.value, None, 0
        mailbox.last_success_at = now
        jitter = random.uniform(0.9, 1.1)  # mailboxes added together drift apart
        mailbox.next_poll_at = now + timedelta(seconds=mailbox.poll_interval * jitter)
        return
    mailbox.failures += 1
    if run.failure == NeedsReconnect.code:
        mailbox.state = MailboxState.NEEDS_RECONNECT.value
    elif run.failure in (AuthFailed.code, TokenRejected.code):
        mailbox.state = MailboxState.AUTH_FAILED.value
    else:
        mailbox.state = MailboxState.UNREACHABLE.value
    mailbox.last_error = run.error
    backoff = timedelta(seconds=mailbox.poll_interval * 2 ** min(mailbox.failures, 10))
    jitter = random.uniform(0.8, 1.2)
    mailbox.next_poll_at = now + min(backoff, MAX_BACKOFF) * jitter
