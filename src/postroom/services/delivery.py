"""Sending the outbox: claim due rows, send them over one SMTP session per route, record
each outcome.

A worker claims rows with a conditional UPDATE and a lease, so any number of workers on any
machines share the table; a lease that expires (the worker died) puts the row back, unless
the worker had already reached the end of DATA: then it may have been delivered, and it waits
as "uncertain" for a person instead of being sent twice.

Providers' limits (services/send_limits.py) are counted at claim: an email past its mailbox's
limit goes back as "deferred" with the time it may go. A "slow down" answer (outbound/limits.py)
pauses the mailbox and defers the rest of its group the same way; neither is ever a failure.

Speed comes from writing little: rows are loaded in bulk, and each email's outcome is
committed together with the next email's end-of-DATA marker, one commit an email. With
`POSTROOM_SEND_WINDOW` above 1, one commit marks that many emails at once: after a crash,
up to that many are "uncertain" instead of one, never resent.
"""

from __future__ import annotations

import os
import smtplib
import socket
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any

from sqlalchemy import Connection as DbConnection
from sqlalchemy import Engine, Update, and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from postroom.config import get_settings
from postroom.connectors.server_words import words
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.errors import AuthFailed, InvalidInput, Misconfigured, PostroomError
from postroom.metrics import events as metrics
from postroom.outbound.limits import is_throttle, throttle_in
from postroom.outbound.retry import next_attempt
from postroom.outbound.sender import Outcome, transmit
from postroom.services import (
    cloud_sending,
    connections,
    events,
    health,
    send_limits,
    sent_copies,
)
from postroom.services.credentials import credentials_of, for_connection
from postroom.services.servers import endpoint_of
from postroom.storage import leased_queue
from postroom.storage.db import unit_of_work
from postroom.storage.models import Connection, Mailbox, OutboxItem, OutboxRecipient, utcnow

WAITING = ("queued", "deferred")  # "deferred": waited for the provider's limit
LEASE = timedelta(minutes=5)
CLAIM_BATCH = 500
PREFETCH_BYTES = 8 * 1024 * 1024  # emails read ahead: one query for many small ones


@dataclass
class FlushResult:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    uncertain: int = 0
    waiting: int = 0  # held back for the provider's limit: deferred, not failed
    copied: int = 0  # copies appended to IMAP Sent folders
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "deferred": self.deferred,
            "failed": self.failed,
            "uncertain": self.uncertain,
            "waiting": self.waiting,
            "copied": self.copied,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class _Route:
    endpoint: Endpoint
    credentials: Credentials | None
    mailbox_id: int  # whose OAuth2 token to renew when the provider refuses it


@dataclass
class _Claimed:
    """What sending one row needs, read once at claim time; the lease makes it ours alone."""

    id: int
    connection_id: int | None
    mailbox_id: int | None
    request_id: int | None
    sender: str
    attempts: int
    size: int
    deadline_at: datetime
    statuses: dict[str, str]  # recipient address -> pending, accepted, refused, bounced

    @property
    def pending(self) -> list[str]:
        return [a for a, status in self.statuses.items() if status == "pending"]


def flush_once(engine: Engine, *, retry_now: bool = False) -> FlushResult:
    """Send what is due, one SMTP session per route, then return."""
    result = FlushResult()
    sweep(engine)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    claimed = _claim(engine, owner, utcnow(), retry_now, result)
    groups: dict[_Route, list[_Claimed]] = defaultdict(list)
    journal = _Journal(engine, result)
    with unit_of_work(engine) as db:
        routes: dict[tuple[int | None, int | None], _Route | PostroomError] = {}
        for item in claimed:
            key = (item.connection_id, item.mailbox_id)
            if key not in routes:
                try:
                    routes[key] = _route(db, *key)
                except PostroomError as exc:
                    routes[key] = exc
            route = routes[key]
            if isinstance(route, AuthFailed):  # an OAuth2 mailbox waiting for a new sign-in
                journal.settle(item, Outcome(deferred={a: (0, str(route)) for a in item.pending}))
            elif isinstance(route, PostroomError):
                journal.settle(item, Outcome(refused={a: (0, str(route)) for a in item.pending}))
            else:
                groups[route].append(item)
    try:
        journal.commit()
        for route, items in groups.items():
            _send_group(route, items, journal)
    finally:
        journal.close()
    metrics.send_attempts(
        {
            "sent": result.sent,
            "deferred": result.deferred,
            "failed": result.failed,
            "uncertain": result.uncertain,
        }
    )
    copies = sent_copies.copy_pending(engine)
    result.copied += copies.copied
    result.errors += copies.errors
    return result


def sweep(engine: Engine, now: datetime | None = None) -> None:
    """Rows left in sending by a dead worker: back to the queue, or uncertain past DATA."""
    now = now or utcnow()
    expired = and_(OutboxItem.state == "sending", OutboxItem.lease_until < now)
    with engine.begin() as connection:
        connection.execute(
            update(OutboxItem)
            .where(expired, OutboxItem.data_sent_at.is_(None))
            .values(state="queued", lease_owner=None, lease_until=None)
        )
        connection.execute(
            update(OutboxItem)
            .where(expired, OutboxItem.data_sent_at.is_not(None))
            .values(
                state="uncertain",
                lease_owner=None,
                lease_until=None,
                last_error="The worker died after the end of DATA: the "
                "server may have delivered it. Check, then `outbox retry`.",
            )
        )


def _claim(
    engine: Engine, owner: str, now: datetime, retry_now: bool, result: FlushResult
) -> list[_Claimed]:
    due = select(OutboxItem.id).where(OutboxItem.state.in_(WAITING))
    if not retry_now:
        due = due.where(OutboxItem.next_attempt_at <= now)
    with engine.begin() as connection:
        until = now + LEASE
        if not leased_queue.take(
            connection, OutboxItem, due, waiting=WAITING, taken="sending",
            owner=owner, until=until, limit=CLAIM_BATCH,
        ):  # fmt: skip
            return []
        # Plain rows, not ORM objects: hundreds of them a flush, and only these columns.
        mine = and_(OutboxItem.lease_owner == owner, OutboxItem.state == "sending")
        claimed = {
            row.id: _Claimed(
                id=row.id,
                connection_id=row.connection_id,
                mailbox_id=row.mailbox_id,
                request_id=row.request_id,
                sender=row.sender,
                attempts=row.attempts,
                size=row.size or 0,
                deadline_at=_aware(row.deadline_at),
                statuses={},
            )
            for row in connection.execute(
                select(
                    OutboxItem.id,
                    OutboxItem.connection_id,
                    OutboxItem.mailbox_id,
                    OutboxItem.request_id,
                    OutboxItem.sender,
                    OutboxItem.attempts,
                    OutboxItem.deadline_at,
                    func.length(OutboxItem.raw).label("size"),
                )
                .where(mine)
                .order_by(OutboxItem.id)
            )
        }
        recipients = connection.execute(
            select(OutboxRecipient.item_id, OutboxRecipient.address, OutboxRecipient.status)
            .join(OutboxItem, OutboxItem.id == OutboxRecipient.item_id)
            .where(mine)
            .order_by(OutboxRecipient.id)
        )
        for item_id, address, status in recipients:
            claimed[item_id].statuses[address] = status
        wanted = [
            send_limits.Wanted(i.id, i.mailbox_id, len(i.pending), i.deadline_at)
            for i in claimed.values()
        ]
        waiting = send_limits.grant(connection, wanted, now)
    result.waiting += len(waiting)
    return [item for item in claimed.values() if item.id not in waiting]


def _route(db: Session, connection_id: int | None, mailbox_id: int | None) -> _Route:
    if connection_id is not None:
        route = db.get(Connection, connection_id)
        assert route is not None
        login = for_connection(route)
        return _Route(connections.endpoint(route), login, route.mailbox_id)
    mailbox = db.get(Mailbox, mailbox_id) if mailbox_id else None
    if mailbox is None or mailbox.outgoing_server is None:
        raise InvalidInput("The email's mailbox can no longer send: it has no outgoing server.")
    return _Route(
        endpoint_of(mailbox.outgoing_server),
        credentials_of(mailbox, mailbox.outgoing_server),
        mailbox.id,
    )


def _send_group(route: _Route, items: list[_Claimed], journal: _Journal) -> None:
    if cloud_sending.sends_through_api(route.endpoint):
        _send_through_api(route, items, journal)
        return
    try:
        client = cloud_sending.open_smtp_renewing(
            journal.engine, route.endpoint, route.credentials, route.mailbox_id
        )
    except PostroomError as exc:
        if _throttled_at_greeting(route, items, exc, journal):
            return
        journal.result.errors.append(str(exc))
        permanent = isinstance(exc, Misconfigured)  # a person must fix it: retrying cannot
        for item in items:
            problem = {a: (0, str(exc)) for a in item.pending}
            journal.settle(
                item, Outcome(refused=problem) if permanent else Outcome(deferred=problem)
            )
        journal.commit()
        health.send_failed(journal.engine, route.mailbox_id, exc)
        return
    health.send_worked(journal.engine, route.mailbox_id)
    window = max(1, get_settings().send_window)
    try:
        for index, item in enumerate(items):
            if item.id not in journal.raw:
                journal.load(items[index:])
            if window > 1 and index % window == 0:
                journal.mark_together([i.id for i in items[index : index + window]])
            raw = journal.raw.pop(item.id)
            try:
                outcome = transmit(
                    client, item.sender, item.pending, raw, partial(journal.mark, item.id)
                )
            except (smtplib.SMTPException, OSError) as exc:
                # Before the final dot: nothing was delivered. This and the rest wait for later.
                error = f"the SMTP session failed: {words(exc)}"
                journal.result.errors.append(error)
                for rest in items[index:]:
                    journal.settle(rest, Outcome(deferred={a: (0, error) for a in rest.pending}))
                return
            if _throttled(route, items[index:], outcome, journal):
                return
            journal.settle(item, cloud_sending.explain_refusals(outcome, route.credentials, raw))
            if outcome.uncertain:  # the session is broken: the rest go back to the queue
                error = "not sent: the SMTP session broke on an earlier email"
                for rest in items[index + 1 :]:
                    journal.settle(rest, Outcome(deferred={a: (0, error) for a in rest.pending}))
                return
    finally:
        journal.commit()
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def _send_through_api(route: _Route, items: list[_Claimed], journal: _Journal) -> None:
    """Graph's sendMail or Gmail's messages.send: one request an email, marked before it goes."""
    try:
        for index, item in enumerate(items):
            if item.id not in journal.raw:
                journal.load(items[index:])
            outcome = cloud_sending.send_through_api(
                journal.engine,
                route.endpoint,
                route.credentials,
                route.mailbox_id,
                item.pending,
                journal.raw.pop(item.id),
                partial(journal.mark, item.id),
            )
            if _throttled(route, items[index:], outcome, journal):
                return
            journal.settle(item, outcome)
    finally:
        journal.commit()


def _throttled(route: _Route, rest: list[_Claimed], outcome: Outcome, journal: _Journal) -> bool:
    """The provider said "slow down" for the first of `rest`: pause the mailbox, and this and
    the rest of its group wait ("deferred") until the pause ends. True when it did."""
    answer = throttle_in(outcome)
    if answer is None or outcome.uncertain:
        return False
    until = send_limits.throttled(journal.engine, route.mailbox_id, answer, outcome.retry_after)
    why = f"the provider asked to slow down: {answer}"
    first, *others = rest
    waiting = {a: detail for a, detail in (outcome.refused | outcome.deferred).items()}
    journal.settle(
        first, Outcome(accepted=outcome.accepted, deferred=waiting), waiting=(until, why)
    )
    for item in others:
        journal.wait(item, until, why)
    return True


def _throttled_at_greeting(
    route: _Route, items: list[_Claimed], exc: PostroomError, journal: _Journal
) -> bool:
    """A server that refuses the session with a "slow down" (421 4.7.0 at the greeting, as
    Exchange does past its connection rate): the whole group waits, nothing is attempted."""
    cause = exc.__cause__
    if not isinstance(cause, smtplib.SMTPResponseException):
        return False
    detail = cause.smtp_error
    text = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
    answer = f"{cause.smtp_code} {text}"
    if not is_throttle(cause.smtp_code, answer):
        return False
    until = send_limits.throttled(journal.engine, route.mailbox_id, answer, None)
    for item in items:
        journal.wait(item, until, f"the provider asked to slow down: {answer}")
    journal.commit()
    return True


class _Journal:
    """The durable record of a flush: end-of-DATA markers and outcomes.

    An outcome waits in memory and is committed with the next marker (or at the end), so an
    email costs one commit. A crash loses at most outcomes that were not committed; their
    rows keep their marker, so the sweeper makes them "uncertain", never resends them.
    """

    def __init__(self, engine: Engine, result: FlushResult) -> None:
        self.engine, self.result = engine, result
        # One connection for the whole flush: a pool checkout and its reset an email cost
        # more than the commit itself.
        self.connection = engine.connect()
        self.raw: dict[int, bytes] = {}
        self.marked: set[int] = set()
        self.window: list[int] = []
        self.items: list[dict[str, Any]] = []
        self.recipients: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []  # outbox.sent / outbox.failed, with the outcome
        self.subscribed: events.Subscribers | None = None  # read once a flush

    def load(self, upcoming: list[_Claimed]) -> None:
        """The bytes of the next emails, as many as fit in PREFETCH_BYTES (at least one)."""
        ids: list[int] = []
        budget = PREFETCH_BYTES
        for item in upcoming:
            if ids and item.size > budget:
                break
            ids.append(item.id)
            budget -= item.size
        with self.connection.begin():
            rows = self.connection.execute(
                select(OutboxItem.id, OutboxItem.raw).where(OutboxItem.id.in_(ids))
            )
            self.raw.update((item_id, raw) for item_id, raw in rows)

    def mark_together(self, ids: list[int]) -> None:
        """The next `mark` writes the end-of-DATA marker of all these emails in one commit."""
        self.window = ids

    def mark(self, item_id: int) -> None:
        """Called just before the final dot: from here on a crash means 'maybe delivered'."""
        if item_id in self.marked:
            return
        ids = self.window or [item_id]
        with self.connection.begin():
            self._write(self.connection)
            self.connection.execute(_MARK, {"ids": ids, "now": utcnow()})
        self.marked.update(ids)
        self.window = []

    def wait(self, item: _Claimed, until: datetime, why: str) -> None:
        """Not tried: it waits for the provider's limit, no attempt counted."""
        values = send_limits.wait_values(item.id, until, why, item.deadline_at, utcnow())
        values["data_sent_at"] = None  # a send window may have marked it with the one before
        self.items.append(values)
        self.result.waiting += 1

    def settle(
        self, item: _Claimed, outcome: Outcome, waiting: tuple[datetime, str] | None = None
    ) -> None:
        """`waiting`: the provider throttled this email; it waits until then, never fails."""
        now = utcnow()
        errors = []
        for address in item.statuses:
            change: tuple[str, int | None, str | None] | None = None
            if address in outcome.accepted:
                change = ("accepted", 250, None)
            elif address in outcome.refused:
                code, detail = outcome.refused[address]
                change = ("refused", code, detail)
                errors.append(f"{address}: {code} {detail}")
            elif address in outcome.deferred:
                code, detail = outcome.deferred[address]
                change = ("pending", code, detail)
                errors.append(f"{address}: {code} {detail}")
            if change is not None:
                item.statuses[address] = change[0]
                self._recipient(item.id, address, *change)
        attempts = item.attempts + 1
        values: dict[str, Any] = {
            "iid": item.id,
            "attempts": attempts,
            "last_error": "; ".join(errors) or None,
        }
        pending = item.pending
        if outcome.uncertain:  # the marker stays: the sweeper and people see why
            values.update(state="uncertain", last_error=outcome.uncertain)
            self.result.uncertain += 1
        elif pending and waiting is not None:
            until, why = waiting
            values |= send_limits.wait_values(item.id, until, why, item.deadline_at, now)
            values["data_sent_at"] = None
            self.result.waiting += 1
        elif pending and now < item.deadline_at:
            values.update(
                state="queued", next_attempt_at=next_attempt(now, attempts), data_sent_at=None
            )
            self.result.deferred += 1
        else:
            for address in pending:  # past the deadline: given up
                self._recipient(item.id, address, "refused", None, None, keep_detail=True)
            if any(status == "accepted" for status in item.statuses.values()):
                values.update(state="sent", sent_at=now)
                self.result.sent += 1
            else:
                values.update(state="failed")
                self.result.failed += 1
            self.events.append(_event(item, values))
        self.items.append(values)

    def _recipient(
        self,
        item_id: int,
        address: str,
        status: str,
        code: int | None,
        detail: str | None,
        *,
        keep_detail: bool = False,
    ) -> None:
        if keep_detail:  # only the status changes; the last answer stays as the reason
            for entry in reversed(self.recipients):
                if entry["iid"] == item_id and entry["addr"] == address:
                    entry["st"] = status
                    return
            code, detail = 0, "no answer before the delivery deadline"
        self.recipients.append(
            {"iid": item_id, "addr": address, "st": status, "code": code, "detail": detail}
        )

    def close(self) -> None:
        self.commit()
        self.connection.close()

    def commit(self) -> None:
        if self.items or self.recipients:
            with self.connection.begin():
                self._write(self.connection)

    def _write(self, connection: DbConnection) -> None:
        if self.recipients:
            connection.execute(_RECIPIENT_OUTCOME, self.recipients)
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for values in self.items:  # the columns differ by state: one executemany a shape
            by_columns[tuple(sorted(values))].append(values)
        for columns, rows in by_columns.items():
            connection.execute(
                _item_outcome(columns),
                [{f"v_{c}" if c != "iid" else c: v for c, v in r.items()} for r in rows],
            )
        if self.events:  # in the outcome's transaction: the event exists exactly when it does
            if self.subscribed is None:
                self.subscribed = events.subscribers(connection)
            for data in self.events:
                events.outbox_outcome(connection, data, self.subscribed)
        self.items, self.recipients, self.events = [], [], []


# Built once: on the one-commit-an-email path, building a statement costs more than running it.
_RECIPIENT_OUTCOME = (
    update(OutboxRecipient)
    .where(
        OutboxRecipient.item_id == bindparam("iid"),
        OutboxRecipient.address == bindparam("addr"),
    )
    .values(status=bindparam("st"), code=bindparam("code"), detail=bindparam("detail"))
)
_MARK = (
    update(OutboxItem)
    .where(OutboxItem.id.in_(bindparam("ids", expanding=True)))
    .values(data_sent_at=bindparam("now"))
)


@cache
def _item_outcome(columns: tuple[str, ...]) -> Update:
    """The UPDATE for one shape of outcome (the columns a state sets), made once a shape."""
    values: dict[str, Any] = {c: bindparam(f"v_{c}") for c in columns if c != "iid"}
    return (
        update(OutboxItem)
        .where(OutboxItem.id == bindparam("iid"))
        .values(lease_owner=None, lease_until=None, **values)
    )


def _event(item: _Claimed, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item.id,
        "state": values["state"],
        "sender": item.sender,
        "request_id": item.request_id,
        "last_error": values.get("last_error"),
        "recipients": [{"address": a, "status": s} for a, s in item.statuses.items()],
    }


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; PostgreSQL aware ones."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)
