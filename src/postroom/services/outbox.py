"""The outbox: email to send, durable, with retries, per-recipient outcomes and bounces.

The outbox row is the truth and the table is the queue: a worker claims due rows with a
conditional UPDATE (a lease), so any number of workers on any machines share it, and nothing
outside the database can disagree with it. A lease that expires (the worker died) puts the
row back, unless the worker had already reached the end of DATA: then it may have been
delivered, and it waits as "uncertain" for a person instead of being sent twice.
"""

from __future__ import annotations

import os
import smtplib
import socket
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Engine, and_, select, update
from sqlalchemy.orm import Session

from postroom.config import get_settings
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.errors import AuthFailed, Conflict, InvalidInput, NotFound, PostroomError
from postroom.outbound.compose import Draft, check, compose, new_message_id, recipients
from postroom.outbound.links import rewrite_links
from postroom.outbound.retry import DEADLINE, next_attempt
from postroom.outbound.sender import Outcome, transmit
from postroom.services import audit, cloud_sending, connections, mailboxes
from postroom.services.actors import Actor
from postroom.services.connection_tests import credentials_of, endpoint_of
from postroom.storage.db import unit_of_work
from postroom.storage.models import Connection, Mailbox, OutboxItem, OutboxRecipient, utcnow

LEASE = timedelta(minutes=5)
CLAIM_BATCH = 500


def enqueue(
    db: Session,
    actor: Actor,
    draft: Draft,
    *,
    connection: str | None = None,
    idempotency_key: str | None = None,
    request_id: int | None = None,
) -> OutboxItem:
    """Queue one email. The same idempotency key twice returns the first item, sends once."""
    key = idempotency_key.strip() if idempotency_key else None
    if key:
        existing = db.scalar(select(OutboxItem).where(OutboxItem.idempotency_key == key))
        if existing is not None:
            return existing
    route = connections.get(db, connection) if connection else None
    mailbox = route.mailbox if route else mailboxes.get_for(db, actor, draft.sender)
    if mailbox.outgoing_server is None or not mailbox.send_enabled:
        raise InvalidInput(f"{mailbox.address} cannot send: it has no outgoing server.")
    draft = check(replace(draft, sender=mailbox.address, request_id=request_id or draft.request_id))
    if route is not None and route.action_base_url:
        public = get_settings().public_url
        draft = replace(
            draft,
            text=rewrite_links(draft.text, public, route.action_base_url),
            html=rewrite_links(draft.html, public, route.action_base_url) if draft.html else None,
        )
    now = utcnow()
    item = OutboxItem(
        idempotency_key=key or None,
        connection_id=route.id if route else None,
        mailbox_id=mailbox.id,
        request_id=request_id,
        message_id=new_message_id(draft.sender),
        sender=draft.sender,
        subject=draft.subject,
        raw=b"",
        next_attempt_at=now,
        deadline_at=now + DEADLINE,
        recipients=[OutboxRecipient(address=a) for a in recipients(draft)],
    )
    db.add(item)
    db.flush()
    item.raw = compose(draft, item.message_id, item.id)
    audit.record(db, actor, "outbox.queued", f"outbox {item.id}", to=len(item.recipients))
    return item


def get(db: Session, item_id: int) -> OutboxItem:
    item = db.get(OutboxItem, item_id)
    if item is None:
        raise NotFound(f"No outbox item {item_id}: `postroom outbox list` shows them.")
    return item


def listing(db: Session, state: str | None = None, limit: int = 100) -> list[OutboxItem]:
    query = select(OutboxItem).order_by(OutboxItem.id.desc())
    if state:
        query = query.where(OutboxItem.state == state)
    if limit:
        query = query.limit(limit)
    return list(db.scalars(query))


def retry(db: Session, actor: Actor, item_id: int) -> OutboxItem:
    """A person decides: send an uncertain or failed item again, to its unanswered recipients."""
    item = get(db, item_id)
    if item.state not in ("uncertain", "failed"):
        raise Conflict(
            f"Outbox item {item_id} is {item.state}; only uncertain or failed ones retry."
        )
    for recipient in item.recipients:
        if recipient.status != "accepted":
            recipient.status, recipient.code, recipient.detail = "pending", None, None
    now = utcnow()
    item.state, item.next_attempt_at, item.deadline_at = "queued", now, now + DEADLINE
    item.data_sent_at = None
    audit.record(db, actor, "outbox.retried", f"outbox {item_id}")
    return item


@dataclass
class FlushResult:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    uncertain: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "deferred": self.deferred,
            "failed": self.failed,
            "uncertain": self.uncertain,
            "errors": self.errors,
        }


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


def _claim(engine: Engine, owner: str, now: datetime, retry_now: bool) -> list[int]:
    due = select(OutboxItem.id).where(OutboxItem.state == "queued")
    if not retry_now:
        due = due.where(OutboxItem.next_attempt_at <= now)
    with engine.begin() as connection:
        ids = list(connection.scalars(due.order_by(OutboxItem.id).limit(CLAIM_BATCH)))
        claimed = []
        for item_id in ids:
            taken = connection.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item_id, OutboxItem.state == "queued")
                .values(state="sending", lease_owner=owner, lease_until=now + LEASE)
            )
            if taken.rowcount == 1:
                claimed.append(item_id)
    return claimed


@dataclass(frozen=True)
class _Route:
    endpoint: Endpoint
    credentials: Credentials | None
    mailbox_id: int  # whose token to renew when the provider refuses it


def _route(db: Session, item: OutboxItem) -> _Route:
    if item.connection_id is not None:
        route = db.get(Connection, item.connection_id)
        assert route is not None
        server = route.mailbox.outgoing_server
        assert server is not None
        return _Route(
            connections.endpoint(route), credentials_of(route.mailbox, server), route.mailbox_id
        )
    mailbox = db.get(Mailbox, item.mailbox_id) if item.mailbox_id else None
    if mailbox is None or mailbox.outgoing_server is None:
        raise InvalidInput(f"Outbox item {item.id}'s mailbox can no longer send.")
    return _Route(
        endpoint_of(mailbox.outgoing_server),
        credentials_of(mailbox, mailbox.outgoing_server),
        mailbox.id,
    )


def flush_once(engine: Engine, *, retry_now: bool = False) -> FlushResult:
    """Send what is due, one SMTP session per route, then return."""
    owner = f"{socket.gethostname()}:{os.getpid()}"
    result = FlushResult()
    sweep(engine)
    claimed = _claim(engine, owner, utcnow(), retry_now)
    groups: dict[_Route, list[tuple[int, str, list[str], bytes]]] = defaultdict(list)
    with unit_of_work(engine) as db:
        for item_id in claimed:
            item = db.get(OutboxItem, item_id)
            assert item is not None
            pending = [r.address for r in item.recipients if r.status == "pending"]
            try:
                route = _route(db, item)
            except AuthFailed as exc:  # an OAuth2 mailbox waiting to be signed in again
                _finish(
                    engine, item_id, Outcome(deferred={a: (0, str(exc)) for a in pending}), result
                )
                continue
            except PostroomError as exc:
                _finish(
                    engine, item_id, Outcome(refused={a: (0, str(exc)) for a in pending}), result
                )
                continue
            groups[route].append((item_id, item.sender, pending, item.raw))
    for route, items in groups.items():
        _send_group(engine, route, items, result)
    return result


def _send_group(
    engine: Engine,
    route: _Route,
    items: list[tuple[int, str, list[str], bytes]],
    result: FlushResult,
) -> None:
    if cloud_sending.sends_through_api(route.endpoint):
        for item_id, _, pending, raw in items:
            mark = partial(_mark_data, engine, item_id)
            outcome = cloud_sending.send_through_api(
                engine, route.endpoint, route.credentials, route.mailbox_id, pending, raw, mark
            )
            _finish(engine, item_id, outcome, result)
        return
    try:
        client = cloud_sending.open_smtp_renewing(
            engine, route.endpoint, route.credentials, route.mailbox_id
        )
    except PostroomError as exc:
        result.errors.append(str(exc))
        for item_id, _, pending, _ in items:
            _finish(engine, item_id, Outcome(deferred={a: (0, str(exc)) for a in pending}), result)
        return
    try:
        for index, (item_id, sender, pending, raw) in enumerate(items):
            try:
                outcome = transmit(
                    client, sender, pending, raw, partial(_mark_data, engine, item_id)
                )
            except (smtplib.SMTPException, OSError) as exc:
                # Before the final dot: nothing was delivered. This and the rest wait for later.
                error = f"the SMTP session failed: {exc}"
                result.errors.append(error)
                for rest_id, _, rest_pending, _ in items[index:]:
                    _finish(
                        engine,
                        rest_id,
                        Outcome(deferred={a: (0, error) for a in rest_pending}),
                        result,
                    )
                return
            _finish(engine, item_id, outcome, result)
            if outcome.uncertain:
                return  # the session is broken: its state is unknown
    finally:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def _mark_data(engine: Engine, item_id: int) -> None:
    """Committed before the final dot: from here on a crash means 'maybe delivered'."""
    with engine.begin() as connection:
        connection.execute(
            update(OutboxItem).where(OutboxItem.id == item_id).values(data_sent_at=utcnow())
        )


def _finish(engine: Engine, item_id: int, outcome: Outcome, result: FlushResult) -> None:
    now = utcnow()
    with unit_of_work(engine) as db:
        item = db.get(OutboxItem, item_id)
        assert item is not None
        item.attempts += 1
        item.lease_owner, item.lease_until = None, None
        errors = []
        for recipient in item.recipients:
            if recipient.address in outcome.accepted:
                recipient.status, recipient.code, recipient.detail = "accepted", 250, None
            elif recipient.address in outcome.refused:
                code, detail = outcome.refused[recipient.address]
                recipient.status, recipient.code, recipient.detail = "refused", code, detail
                errors.append(f"{recipient.address}: {code} {detail}")
            elif recipient.address in outcome.deferred:
                code, detail = outcome.deferred[recipient.address]
                recipient.code, recipient.detail = code, detail
                errors.append(f"{recipient.address}: {code} {detail}")
        pending = [r for r in item.recipients if r.status == "pending"]
        item.last_error = "; ".join(errors) or None
        if outcome.uncertain:
            item.state, item.last_error = "uncertain", outcome.uncertain
            result.uncertain += 1
        elif pending and now < _aware(item.deadline_at):
            item.state, item.next_attempt_at = "queued", next_attempt(now, item.attempts)
            item.data_sent_at = None
            result.deferred += 1
        elif any(r.status == "accepted" for r in item.recipients):
            for recipient in pending:
                recipient.status = "refused"
            item.state, item.sent_at = "sent", now
            result.sent += 1
        else:
            for recipient in pending:
                recipient.status = "refused"
            item.state = "failed"
            result.failed += 1


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; PostgreSQL aware ones."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)
