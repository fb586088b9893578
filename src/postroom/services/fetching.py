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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from postroom.config import get_settings
from postroom.connectors.base import AfterImport, Connector, Cursor, Listing, RemoteMessage
from postroom.connectors.registry import open_receiver
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import PUSHED, MailboxState
from postroom.errors import (
    AuthFailed,
    CommandRefused,
    LeaseLost,
    NotFound,
    PostroomError,
    Transient,
)
from postroom.inbound.pipeline import BatchResult, ingest
from postroom.metrics import events as metrics
from postroom.services import (
    after_import,
    bounces,
    events,
    fetch_runs,
    health,
    push_polls,
    quarantine,
    request_history,
    tokens,
)
from postroom.services.acknowledgements import Acknowledger
from postroom.services.credentials import credentials_of
from postroom.services.servers import endpoint_of
from postroom.storage.db import unit_of_work
from postroom.storage.models import FetchCursor, Mailbox, Message, aware, utcnow

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=1)
MAX_RECONNECTS = 4  # connections a run may open when one dies on a single email

# Called first in each transaction that commits: raises LeaseLost when this worker no longer
# owns the mailbox (workers/ownership.py), so the batch rolls back and nothing is acknowledged.
Fence = Callable[[Session], None]


def _unfenced(db: Session) -> None:
    """`fetch --once` and tests: no other worker to defer to."""


class Receivers(Protocol):
    """Where a fetch gets its connector and gives it back: the workers keep an authenticated
    IMAP session for the next fetch of the same mailbox (workers/sessions.py)."""

    def open(self, endpoint: Endpoint, credentials: Credentials) -> Connector: ...

    def done(self, connector: Connector, reusable: bool) -> None: ...


class Direct:
    """A new connection for each fetch, closed after it."""

    def open(self, endpoint: Endpoint, credentials: Credentials) -> Connector:
        return open_receiver(endpoint, credentials)

    def done(self, connector: Connector, reusable: bool) -> None:
        connector.close()


@dataclass
class MailboxRun:
    address: str
    ok: bool = True
    fetched: int = 0
    acknowledged: int = 0
    result: BatchResult = field(default_factory=BatchResult)
    error: str | None = None
    failure: str | None = None  # the error's code: "auth-failed", "transient", "unreachable"
    login_delay: int | None = None  # seconds the server wants between logins (POP3 CAPA)
    started_at: datetime = field(default_factory=utcnow)
    protocol: str = ""
    progress: int | None = None  # the fetch_runs row someone watches (Fetch now)
    own_addresses: frozenset[str] | None = field(default=None, repr=False)  # see _own_addresses

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


def _own_addresses(db: Session, run: MailboxRun) -> frozenset[str]:
    """Every mailbox address postroom has, read once a run: with thousands of mailboxes and
    batches of a few emails, reading them for each batch cost more than the batch."""
    if run.own_addresses is None:
        run.own_addresses = frozenset(db.scalars(select(Mailbox.address)))
    return run.own_addresses


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


def fetch_mailbox(
    engine: Engine,
    mailbox_id: int,
    fence: Fence = _unfenced,
    receivers: Receivers | None = None,
) -> MailboxRun:
    source = receivers or Direct()
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
        run.progress = fetch_runs.claim(db, mailbox_id)
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
                engine,
                mailbox_id,
                run,
                source,
                lambda: source.open(endpoint, given),
                action,
                cursor,
                fence,
            ),
        )
    except LeaseLost as exc:  # another worker owns it now: its state is that worker's to write
        run.ok, run.error, run.failure = False, str(exc), exc.code
        log.info("fetching %s stopped: %s", run.address, exc)
        return run
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
    source: Receivers,
    opener: Callable[[], Connector],
    action: AfterImport,
    cursor: Cursor,
    fence: Fence = _unfenced,
) -> None:
    """Passes over the mailbox; a connection that dies on one email is opened again and the
    rest goes on without it (services/quarantine.py counts its tries)."""
    tracker = quarantine.Tracker(engine, mailbox_id)
    pending = after_import.Pending(engine, mailbox_id, action)
    for _ in range(MAX_RECONNECTS):
        connector = opener()
        run.login_delay = getattr(connector, "login_delay", None)
        clean = False  # only a session that ended its pass cleanly is kept for the next fetch
        try:
            _pass(engine, mailbox_id, run, connector, action, cursor, tracker, pending, fence)
            clean = True
            return
        except quarantine.Dropped:
            continue
        finally:
            try:
                source.done(connector, reusable=clean)
            except PostroomError as exc:
                run.ok, run.error = False, str(exc)
    raise Transient(f"The connection to {run.address}'s server was lost again and again.")


def _pass(
    engine: Engine,
    mailbox_id: int,
    run: MailboxRun,
    connector: Connector,
    action: AfterImport,
    cursor: Cursor,
    tracker: quarantine.Tracker,
    pending: after_import.Pending,
    fence: Fence,
) -> None:
    """List, then per batch: fetch, commit, acknowledge; the provider's cursor is saved last,
    once every message it covers is committed or quarantined."""
    listing = connector.list_waiting(cursor, action)
    unresolved = _take(engine, mailbox_id, run, connector, listing, tracker, pending, fence)
    if unresolved:  # a provider's cursor past an email not yet stored would skip it for good
        return
    with unit_of_work(engine) as db:
        fence(db)
        mailbox = db.get(Mailbox, mailbox_id)
        assert mailbox is not None
        row = _cursor_row(db, mailbox)
        _advance(row, listing.cursor, [])
        row.token = listing.cursor.token


def take(
    engine: Engine,
    mailbox_id: int,
    run: MailboxRun,
    connector: Connector,
    action: AfterImport,
    listing: Listing,
) -> None:
    """Import the listed keys not stored yet, batch by batch, each committed before the
    server is told; keys stored earlier are only acknowledged. Backfills use it."""
    tracker = quarantine.Tracker(engine, mailbox_id)
    pending = after_import.Pending(engine, mailbox_id, action)
    _take(engine, mailbox_id, run, connector, listing, tracker, pending, _unfenced)


def _take(
    engine: Engine,
    mailbox_id: int,
    run: MailboxRun,
    connector: Connector,
    listing: Listing,
    tracker: quarantine.Tracker,
    pending: after_import.Pending,
    fence: Fence,
) -> bool:
    """The batches of one listing; True when an email is left unresolved (not stored, not
    quarantined), so the provider's cursor must not move past it."""
    batch_size = get_settings().fetch_batch_size
    with unit_of_work(engine) as db:
        known = known_keys(db, mailbox_id, listing.keys)
    now = utcnow()
    leftovers = [  # committed earlier, not yet acknowledged (a quarantined one never is)
        k
        for k in listing.keys
        if k in known and k not in tracker.quarantined and pending.due(k, now)
    ]
    pending.acknowledge(connector, leftovers)
    run.acknowledged += len(leftovers)
    waiting = [k for k in listing.keys if k not in known and k not in tracker.tried_now]
    unresolved = len(waiting) < len([k for k in listing.keys if k not in known])
    for keys in _batches(waiting, batch_size, tracker):
        fetched = _fetch_batch(connector, keys, tracker)
        unresolved = unresolved or len(fetched) < len(keys)  # before the cursor moves past it
        stored = _store(engine, mailbox_id, run, fetched, listing, keys, unresolved, fence)
        tracker.stored(stored)
        pending.acknowledge(connector, stored)
        run.fetched += len(fetched)
    return unresolved


def _batches(keys: list[str], size: int, tracker: quarantine.Tracker) -> Iterator[list[str]]:
    """Batches of `size`; a key that failed before goes alone, so a failure is its own."""
    batch: list[str] = []
    for key in keys:
        if tracker.suspect(key):
            if batch:
                yield batch
                batch = []
            yield [key]
        else:
            batch.append(key)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def _fetch_batch(
    connector: Connector, keys: list[str], tracker: quarantine.Tracker
) -> list[RemoteMessage]:
    """The messages the server gave; each failure counted. A connection that dies on one email
    fetched alone is raised as Dropped (reconnect, go on without it); in a batch, every key is
    a suspect and the run ends as before."""
    try:
        fetched = connector.fetch(keys)
    except CommandRefused as exc:
        if len(keys) == 1:
            tracker.failed(keys, str(exc), alone=True)
            return []
        fetched = []
        for key in keys:  # the session lives: find the one(s) it refuses
            fetched.extend(_fetch_batch(connector, [key], tracker))
        return fetched
    except Transient as exc:
        tracker.failed(keys, str(exc), alone=len(keys) == 1)
        if len(keys) > 1:  # which one? Next run fetches these alone to find out
            raise
        raise quarantine.Dropped from exc
    given = {m.key for m in fetched}
    missing = [k for k in keys if k not in given]
    for key in missing:
        tracker.failed([key], "The server sent no content for it.", alone=True)
    return fetched


def _store(
    engine: Engine,
    mailbox_id: int,
    run: MailboxRun,
    fetched: list[RemoteMessage],
    listing: Listing,
    keys: list[str],
    hold_cursor: bool,
    fence: Fence,
) -> list[str]:
    """One transaction for the batch; if it fails, one a message, and a message that fails
    alone is kept raw as held `failed`. Returns the keys now stored. A lost lease is never a
    message's fault: it ends the run, and the new owner fetches these."""
    try:
        _ingest(engine, mailbox_id, run, fetched, listing, [] if hold_cursor else keys, fence)
        return [m.key for m in fetched]
    except LeaseLost:
        raise
    except Exception as exc:
        if len(fetched) <= 1:
            if not fetched:
                raise
            log.warning("storing %s failed; kept raw as failed: %s", fetched[0].key, exc)
            quarantine.store_raw(engine, mailbox_id, fetched[0], f"{type(exc).__name__}: {exc}")
            run.result.held += 1
            run.result.held_reasons["failed"] += 1
            return [fetched[0].key]
    stored: list[str] = []
    for message in fetched:
        stored.extend(_store(engine, mailbox_id, run, [message], listing, [], True, fence))
    return stored


def _ingest(
    engine: Engine,
    mailbox_id: int,
    run: MailboxRun,
    fetched: list[RemoteMessage],
    listing: Listing,
    keys: list[str],
    fence: Fence,
) -> None:
    with unit_of_work(engine) as db:
        fence(db)  # first: a worker paused past its lease commits nothing
        mailbox = db.get(Mailbox, mailbox_id)
        assert mailbox is not None
        own = _own_addresses(db, run)
        acknowledge = Acknowledger(db, mailbox, own) if Acknowledger.wanted(mailbox) else None
        result = ingest(
            db,
            mailbox,
            fetched,
            own,
            on_open=acknowledge,
            on_bounce=partial(bounces.record, db),
            on_stored=partial(_placed, db),
        )
        _advance(_cursor_row(db, mailbox), listing.cursor, keys)
        if run.progress is not None:
            fetch_runs.count_batch(db, run.progress, len(fetched), result)
    run.result.add(result)
    metrics.delivered(run.protocol, result.arrivals)  # committed: these are requests now


def _placed(db: Session, placed: list[tuple[Message, str]]) -> None:
    """Told to webhooks and written in the requests' histories, in the batch's transaction."""
    events.messages_stored(db, placed)
    request_history.placed(db, placed)


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
        if run.login_delay is not None:
            mailbox.login_delay = run.login_delay
        if not run.ok and _signed_in_since(mailbox, run.started_at):
            mailbox.next_poll_at = None  # try the new credentials now; the old ones' error is moot
        else:
            _schedule(mailbox, run)
        fetch_runs.finish(
            db,
            mailbox_id,
            run.progress,
            fetched=run.fetched,
            result=run.result,
            error=None if run.ok else run.error or "The fetch failed.",
            started_at=run.started_at,
        )
        mailbox.warning = after_import.warning(db, mailbox)
        if run.ok and run.protocol in PUSHED:  # under push the poll is a safety net
            if push_polls.notified_since(db, mailbox_id, run.started_at):
                mailbox.next_poll_at = utcnow()  # a push during the run wins
            else:
                interval = push_polls.poll_interval(db, mailbox)
                mailbox.next_poll_at = utcnow() + interval * random.uniform(0.9, 1.1)
        if fetch_runs.asked(db, mailbox_id):  # Fetch now while this fetch ran: it is not done
            mailbox.next_poll_at = None  # so the owning worker's heartbeat fetches again now
        events.mailbox_state_changed(db, mailbox, before)


def _signed_in_since(mailbox: Mailbox, started_at: datetime) -> bool:
    """A sign-in or reconnect while this fetch ran: its failure must not back the mailbox off
    (nor mark it failing) after the sign-in cleared both."""
    changed = mailbox.credentials_changed_at
    return changed is not None and aware(changed) > started_at


def _schedule(mailbox: Mailbox, run: MailboxRun) -> None:
    now = utcnow()
    mailbox.last_checked_at = now
    interval = max(mailbox.poll_interval, mailbox.login_delay or 0)  # RFC 2449 LOGIN-DELAY
    if run.ok:
        mailbox.state, mailbox.last_error, mailbox.failures = MailboxState.OK.value, None, 0
        mailbox.last_success_at = now
        jitter = random.uniform(0.9, 1.1)  # mailboxes added together drift apart
        mailbox.next_poll_at = now + timedelta(seconds=interval * jitter)
        return
    mailbox.failures += 1
    mailbox.state = health.receive_state(run.failure).value
    mailbox.last_error, mailbox.last_error_at = run.error, now
    backoff = timedelta(seconds=interval * 2 ** min(mailbox.failures, 10))
    jitter = random.uniform(0.8, 1.2)
    mailbox.next_poll_at = now + max(
        min(backoff, MAX_BACKOFF) * jitter, timedelta(seconds=mailbox.login_delay or 0)
    )
