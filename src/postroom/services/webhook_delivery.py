"""Sending webhook deliveries: claim due rows with a lease, POST each signed, record the answer.

Like the outbox (services/delivery.py), any number of workers share the table: a conditional
UPDATE claims rows, and a lease that runs out (the worker died) puts them back. Delivery is at
least once: a worker that dies after the POST but before recording it sends it again, with the
same Postroom-Delivery id, which is what receivers dedupe on.

Each subscription gets its own thread and HTTP client, so a slow receiver holds up only its own
deliveries; after one failure the rest of that receiver's batch waits for its next attempt
instead of each timing out in turn.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, and_, delete, select, update

from postroom.config import get_settings
from postroom.errors import PostroomError
from postroom.services.webhooks import secret_of
from postroom.storage import leased_queue
from postroom.storage.db import unit_of_work
from postroom.storage.models import WebhookDelivery, WebhookSubscription, aware, utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
CLAIM_BATCH = 200
PARALLEL = 8  # receivers sent to at once
FIRST_DELAY = timedelta(seconds=30)
LONGEST_DELAY = timedelta(hours=6)
RETENTION = timedelta(days=30)  # delivered and failed rows kept to look at, then deleted


@dataclass
class FlushResult:
    """Filled by several sending threads at once, hence the lock."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, state: str, error: str | None) -> None:
        with self.lock:
            if state == "delivered":
                self.delivered += 1
            elif state == "failed":
                self.failed += 1
            else:
                self.retrying += 1
            if error is not None:
                self.errors.append(error)

    def as_dict(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "retrying": self.retrying,
            "failed": self.failed,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class _Target:
    name: str
    url: str
    secret: str


@dataclass
class _Claimed:
    id: int
    uid: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    deadline_at: datetime
    subscription_id: int


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Postroom-Signature header: t=TIMESTAMP,v1=hex HMAC-SHA256 of "TIMESTAMP.BODY"."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def next_attempt(now: datetime, attempts: int) -> datetime:
    delay = min(FIRST_DELAY * (1 << min(max(attempts - 1, 0), 20)), LONGEST_DELAY)
    return now + delay * random.uniform(0.8, 1.2)  # receivers that come back are not stampeded


def flush_once(
    engine: Engine, *, retry_now: bool = False, uids: list[str] | None = None
) -> FlushResult:
    """Send what is due (or only `uids`, due or not), then return."""
    sweep(engine)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    claimed = _claim(engine, owner, utcnow(), retry_now or uids is not None, uids)
    result = FlushResult()
    if not claimed:
        return result
    groups: dict[int, list[_Claimed]] = defaultdict(list)
    for item in claimed:
        groups[item.subscription_id].append(item)
    targets = _targets(engine, list(groups))
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(groups))) as pool:
        for sid, items in groups.items():
            if sid in targets:  # else removed since the claim, and its rows with it
                pool.submit(_deliver_group, engine, targets[sid], items, result)
    return result


def sweep(engine: Engine, now: datetime | None = None) -> None:
    """Rows left in delivering by a dead worker go back to the queue; settled rows older than
    RETENTION go, so the table stays the size of recent history."""
    now = now or utcnow()
    expired = and_(WebhookDelivery.state == "delivering", WebhookDelivery.lease_until < now)
    settled = WebhookDelivery.state.in_(("delivered", "failed"))
    with engine.begin() as connection:
        connection.execute(
            update(WebhookDelivery)
            .where(expired)
            .values(state="pending", lease_owner=None, lease_until=None)
        )
        connection.execute(
            delete(WebhookDelivery).where(settled, WebhookDelivery.created_at < now - RETENTION)
        )


def _claim(
    engine: Engine, owner: str, now: datetime, any_time: bool, uids: list[str] | None
) -> list[_Claimed]:
    active = select(WebhookSubscription.id).where(WebhookSubscription.active)
    due = select(WebhookDelivery.id).where(
        WebhookDelivery.state == "pending", WebhookDelivery.subscription_id.in_(active)
    )
    if uids is not None:
        due = due.where(WebhookDelivery.uid.in_(uids))
    if not any_time:
        due = due.where(WebhookDelivery.next_attempt_at <= now)
    with engine.begin() as connection:
        until = now + LEASE
        if not leased_queue.take(
            connection, WebhookDelivery, due, waiting="pending", taken="delivering",
            owner=owner, until=until, limit=CLAIM_BATCH,
        ):  # fmt: skip
            return []
        rows = connection.execute(
            select(
                WebhookDelivery.id,
                WebhookDelivery.uid,
                WebhookDelivery.kind,
                WebhookDelivery.payload,
                WebhookDelivery.attempts,
                WebhookDelivery.deadline_at,
                WebhookDelivery.subscription_id,
            )
            .where(WebhookDelivery.lease_owner == owner, WebhookDelivery.state == "delivering")
            .order_by(WebhookDelivery.id)
        ).all()
    return [
        _Claimed(
            r.id, r.uid, r.kind, r.payload, r.attempts, aware(r.deadline_at), r.subscription_id
        )
        for r in rows
    ]


def _targets(engine: Engine, ids: list[int]) -> dict[int, _Target | PostroomError]:
    targets: dict[int, _Target | PostroomError] = {}
    with unit_of_work(engine) as db:
        for row in db.scalars(select(WebhookSubscription).where(WebhookSubscription.id.in_(ids))):
            try:
                targets[row.id] = _Target(row.name, row.url, secret_of(row))
            except PostroomError as exc:  # the key changed: wait, and say so
                targets[row.id] = exc
    return targets


def _client() -> httpx.Client:
    """The one place the HTTP client is made: timeouts from settings, no redirects followed
    (a 3xx is an answer to fix at the receiver, not a place to send signed events)."""
    settings = get_settings()
    timeout = httpx.Timeout(settings.webhook_timeout, connect=settings.webhook_connect_timeout)
    return httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)


def _deliver_group(
    engine: Engine, target: _Target | PostroomError, items: list[_Claimed], result: FlushResult
) -> None:
    if isinstance(target, PostroomError):
        for item in items:
            _settle(engine, item, None, str(target), result)
        return
    try:
        with _client() as client:
            for index, item in enumerate(items):
                status, error = _post(client, target, item)
                _settle(engine, item, status, error, result)
                if error is not None:
                    for rest in items[index + 1 :]:
                        _release(engine, rest)
                    return
    except Exception:  # never leave rows leased for five minutes over a bug; log it
        log.exception("delivering webhooks to %s failed unexpectedly", target.name)
        for item in items:
            _release(engine, item)


def _post(client: httpx.Client, target: _Target, item: _Claimed) -> tuple[int | None, str | None]:
    body = json.dumps(item.payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "postroom-webhooks/1",
        "Postroom-Event": item.kind,
        "Postroom-Delivery": item.uid,
        "Postroom-Signature": sign(target.secret, int(time.time()), body),
    }
    try:
        response = client.post(target.url, content=body, headers=headers)
    except httpx.TimeoutException:
        return None, "the receiver did not answer in time"
    except httpx.HTTPError as exc:
        return None, f"the receiver could not be reached: {type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"the receiver answered HTTP {response.status_code}"


def _settle(
    engine: Engine, item: _Claimed, status: int | None, error: str | None, result: FlushResult
) -> None:
    now = utcnow()
    attempts = item.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_status": status,
        "last_error": error,
        "lease_owner": None,
        "lease_until": None,
    }
    if error is None:
        values.update(state="delivered", delivered_at=now)
    elif now < item.deadline_at:
        values.update(state="pending", next_attempt_at=next_attempt(now, attempts))
    else:
        values.update(state="failed")
    if error is not None:  # the subscription's name only: a URL may carry a token
        log.info(
            "webhook delivery %s to subscription %s: %s (%s)",
            item.uid,
            item.subscription_id,
            error,
            values["state"],
        )
    result.count(values["state"], None if error is None else f"{item.uid} ({item.kind}): {error}")
    with engine.begin() as connection:
        connection.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == item.id).values(**values)
        )


def _release(engine: Engine, item: _Claimed) -> None:
    """Not tried this time (its receiver just failed): back to the queue, no attempt counted."""
    with engine.begin() as connection:
        connection.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == item.id)
            .values(state="pending", lease_owner=None, lease_until=None)
        )
