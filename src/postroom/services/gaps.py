"""Gaps: mail the server holds that postroom never stored, so never became a request.

What the server holds (every key in the folder, and the server's own count: IMAP STATUS
MESSAGES/UIDNEXT, Graph totalItemCount, Gmail messagesTotal) is compared with the stored keys
and with what the next regular fetch would take anyway; the rest is the gap. Causes: a restore
of an older database, a person who read the mail before postroom did (mark-read mailboxes fetch
only unread mail), a server migration. A backfill takes the gap through the normal pipeline,
so every invariant holds: committed before acknowledged, deduplicated, rules and routing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from postroom.connectors.base import AfterImport, Connector, Cursor, Listing, RemoteMessage
from postroom.connectors.registry import open_receiver
from postroom.domain.endpoints import Credentials
from postroom.domain.settings import AfterImportKind, MailboxState
from postroom.errors import AuthFailed, Conflict, PostroomError
from postroom.services import fetching, mailboxes, tokens
from postroom.services.actors import Actor
from postroom.services.credentials import credentials_of
from postroom.services.servers import endpoint_of
from postroom.storage.db import unit_of_work
from postroom.storage.models import FetchCursor, Mailbox, MailboxGap, aware, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")
LISTED = 100  # missing keys kept with the daily check, for the doctor and the console
EVERYTHING = AfterImport(AfterImportKind.KEEP)
CLOCK_SKEW = timedelta(minutes=5)  # the server's clock and ours, and second-rounded dates
DAILY_WINDOW = timedelta(days=3)  # shorter than any sensible retention of held mail


@dataclass
class GapReport:
    address: str
    folder: str
    on_server: int = 0
    server_count: dict[str, int] = field(default_factory=dict)  # what the server says itself
    stored: int = 0  # of those on the server
    waiting: int = 0  # the next regular fetch takes these
    unacknowledged: int = 0  # stored, and the next fetch only applies the after-import action
    missing: list[str] = field(default_factory=list)
    older: int = 0  # not stored, but from before `since`: not counted as missing
    since: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "mailbox": self.address,
            "folder": self.folder,
            "on_server": self.on_server,
            "server_count": self.server_count,
            "stored": self.stored,
            "waiting": self.waiting,
            "unacknowledged": self.unacknowledged,
            "missing": len(self.missing),
            "missing_keys": self.missing,
            "older": self.older,
            "since": self.since.isoformat() if self.since else None,
        }


@dataclass
class _Plan:
    mailbox_id: int
    address: str
    folder: str
    action: AfterImport
    cursor: Cursor
    protocol: str
    created_at: datetime


def _plan(db: Session, mailbox: Mailbox) -> _Plan:
    if mailbox.incoming_server is None:
        raise Conflict(f"{mailbox.address} receives no mail: it has no incoming server.")
    row = db.scalar(
        select(FetchCursor).where(
            FetchCursor.mailbox_id == mailbox.id, FetchCursor.folder == mailbox.folder
        )
    )
    cursor = Cursor(mailbox.folder)
    if row is not None:
        cursor = Cursor(row.folder, row.validity, row.last_uid, row.token)
    return _Plan(
        mailbox.id,
        mailbox.address,
        mailbox.folder,
        AfterImport.parse(mailbox.after_import),
        cursor,
        mailbox.incoming_server.protocol,
        aware(mailbox.created_at) - CLOCK_SKEW,
    )


def _with_receiver(engine: Engine, mailbox_id: int, work: Callable[[Connector], T]) -> T:
    """Sign in as the fetcher does (OAuth2 renewed once on a 401), run `work`, close."""
    with unit_of_work(engine) as db:
        mailbox = db.get(Mailbox, mailbox_id)
        assert mailbox is not None and mailbox.incoming_server is not None
        endpoint = endpoint_of(mailbox.incoming_server)
        oauth = mailbox.oauth_app_id is not None
        credentials = None if oauth else credentials_of(mailbox, mailbox.incoming_server)
        address = mailbox.address
    if oauth:
        credentials = tokens.credentials(engine, mailbox_id)
    if credentials is None:
        raise AuthFailed(f"{address} has no password: reconnect it with one.")

    def attempt(given: Credentials) -> T:
        connector = open_receiver(endpoint, given)
        try:
            return work(connector)
        finally:
            connector.close()

    return tokens.with_renewal(engine, mailbox_id, credentials, attempt)


def _arrivals(connector: Connector, keys: list[str]) -> dict[str, datetime | None]:
    """When each of these reached the server: IMAP says it cheaply (INTERNALDATE); the APIs'
    bodies are read (the keys are only the few not stored)."""
    cheap = getattr(connector, "arrivals", None)
    if cheap is not None:
        found: dict[str, datetime | None] = cheap(keys)
        return found
    dates: dict[str, datetime | None] = {}
    for start in range(0, len(keys), 100):
        dates.update((m.key, arrival(m)) for m in connector.fetch(keys[start : start + 100]))
    return dates


def _compare(
    engine: Engine, plan: _Plan, connector: Connector, since: datetime
) -> tuple[GapReport, Listing]:
    report = GapReport(plan.address, plan.folder, since=since)
    status = getattr(connector, "folder_status", None)
    if status is not None:
        report.server_count = status(plan.folder)
    everything = connector.list_waiting(Cursor(plan.folder), EVERYTHING)
    waiting = set(connector.list_waiting(plan.cursor, plan.action).keys)
    with unit_of_work(engine) as db:
        known = fetching.known_keys(db, plan.mailbox_id, everything.keys)
    report.on_server = len(everything.keys)
    report.stored = len(known)
    report.waiting = len(waiting - known)
    report.unacknowledged = len(waiting & known)
    candidates = [k for k in everything.keys if k not in known and k not in waiting]
    dates = _arrivals(connector, candidates) if candidates else {}
    for key in candidates:
        if key not in dates:
            continue  # gone from the server between the listing and now
        arrived = dates[key]
        if arrived is not None and aware(arrived) < since:
            report.older += 1  # before the mailbox was added, or before --since
        else:
            report.missing.append(key)
    return report, everything


def _remember(engine: Engine, mailbox_id: int, report: GapReport | None, error: str | None) -> None:
    with unit_of_work(engine) as db:
        row = db.scalar(select(MailboxGap).where(MailboxGap.mailbox_id == mailbox_id))
        if row is None:
            row = MailboxGap(mailbox_id=mailbox_id)
            db.add(row)
        row.checked_at, row.error = utcnow(), error
        if report is not None:
            row.on_server, row.stored = report.on_server, report.stored
            row.missing, row.missing_keys = len(report.missing), report.missing[:LISTED]


def check(engine: Engine, actor: Actor, address: str, since: datetime | None = None) -> GapReport:
    """Compare one mailbox now (mail since `since`, by default since the mailbox was added);
    the result is also kept for the doctor and the metrics."""
    with unit_of_work(engine) as db:
        plan = _plan(db, mailboxes.get_for(db, actor, address))
    start = since or plan.created_at
    report, _ = _with_receiver(engine, plan.mailbox_id, lambda c: _compare(engine, plan, c, start))
    _remember(engine, plan.mailbox_id, report, None)
    return report


@dataclass
class Backfill:
    report: GapReport
    run: fetching.MailboxRun

    def as_dict(self) -> dict[str, Any]:
        run = self.run.as_dict()
        return {
            "mailbox": self.report.address,
            "since": self.report.since.isoformat() if self.report.since else None,
            "missing": len(self.report.missing),
            "taken": self.run.fetched,
            "opened": run["opened"],
            "threaded": run["threaded"],
            "held": run["held"],
            "held_reasons": run["held_reasons"],
            "older": self.report.older,
        }


def arrival(message: RemoteMessage) -> datetime | None:
    """The server's arrival time, else the Date header; None when neither can be read."""
    if message.arrived_at is not None:
        return aware(message.arrived_at)
    head = message.raw[:65536].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    for line in head.split(b"\n"):
        if line[:5].lower() == b"date:":
            try:
                return aware(parsedate_to_datetime(line[5:].decode("latin-1").strip()))
            except (TypeError, ValueError):
                return None
    return None


def backfill(engine: Engine, actor: Actor, address: str, since: datetime) -> Backfill:
    """Take what is missing and arrived on or after `since`, through the normal pipeline.
    It takes no lease from the worker that owns the mailbox: what it takes is mail that
    worker's fetches pass over (read, or older than its cursor), and should both reach one
    email at once, the database keeps one copy (unique mailbox and server key) and the other
    batch rolls back before anything is acknowledged."""
    with unit_of_work(engine) as db:
        plan = _plan(db, mailboxes.get_for(db, actor, address))
    return _with_receiver(engine, plan.mailbox_id, lambda c: _take(engine, plan, c, since))


def _take(engine: Engine, plan: _Plan, connector: Connector, since: datetime) -> Backfill:
    report, everything = _compare(engine, plan, connector, since)
    run = fetching.MailboxRun(plan.address, protocol=plan.protocol)
    listing = Listing(report.missing, everything.cursor)
    fetching.take(engine, plan.mailbox_id, run, connector, plan.action, listing)
    after, _ = _compare(engine, plan, connector, plan.created_at)
    _remember(engine, plan.mailbox_id, after, None)
    return Backfill(report, run)


def check_all(engine: Engine, window: timedelta = DAILY_WINDOW) -> int:
    """The daily round: every receiving mailbox, for mail of the last `window` (held machine
    mail purged by retention is not a gap); one failing never stops the others. Returns how
    many mailboxes have a gap."""
    with unit_of_work(engine) as db:
        ids = list(
            db.scalars(
                select(Mailbox.id).where(
                    Mailbox.receive_enabled,
                    Mailbox.incoming_server_id.is_not(None),
                    Mailbox.state != MailboxState.DISABLED.value,
                )
            )
        )
    gaps = 0
    for mailbox_id in ids:
        try:
            report = _check_one(engine, mailbox_id, utcnow() - window)
        except PostroomError as exc:  # the fetcher reports an unreachable mailbox already
            log.info("gap check of mailbox %s: %s", mailbox_id, exc)
            _remember(engine, mailbox_id, None, str(exc))
            continue
        _remember(engine, mailbox_id, report, None)
        gaps += bool(report.missing)
    return gaps


def _check_one(engine: Engine, mailbox_id: int, since: datetime) -> GapReport:
    with unit_of_work(engine) as db:
        mailbox = db.get(Mailbox, mailbox_id)
        assert mailbox is not None
        plan = _plan(db, mailbox)
    start = max(since, plan.created_at)
    report, _ = _with_receiver(engine, mailbox_id, lambda c: _compare(engine, plan, c, start))
    return report
