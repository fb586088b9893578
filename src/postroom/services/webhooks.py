"""Webhook subscriptions: administrators say where events go. The signing secret is made by
postroom, shown once (on add and on rotate), and kept sealed; nothing returns it again."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.services import audit, events
from postroom.services.actors import Actor
from postroom.storage.models import WebhookDelivery, WebhookSubscription, utcnow
from postroom.storage.secrets import default_box

STATES = ("pending", "delivering", "delivered", "failed")


@dataclass(frozen=True)
class Created:
    """A subscription with its secret in clear: the one moment the secret leaves postroom."""

    subscription: WebhookSubscription
    secret: str


def check_url(value: str) -> str:
    url = value.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidInput(f"The webhook URL {url!r} is not valid: {exc}.", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            "A webhook URL must start with https:// (or http://) and name a host.", field="url"
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            "Put no user name or password in the webhook URL: receivers check the "
            "Postroom-Signature header instead.",
            field="url",
        )
    return url


def check_events(kinds: list[str]) -> list[str]:
    chosen = sorted({k.strip() for k in kinds if k.strip()})
    if not chosen:
        raise InvalidInput("Choose at least one event (or * for all of them).", field="events")
    unknown = [k for k in chosen if k not in events.EVENTS and k != events.ALL]
    if unknown:
        raise InvalidInput(
            f"Unknown event {', '.join(unknown)}: choose from {', '.join(events.EVENTS)}, or *.",
            field="events",
        )
    return chosen


def _new_secret(row: WebhookSubscription) -> str:
    secret = "whsec_" + secrets.token_urlsafe(32)
    row.secret = default_box().seal(secret, row.secret_identity("secret"))
    return secret


def secret_of(row: WebhookSubscription) -> str:
    assert row.secret is not None
    return default_box().open(row.secret, row.secret_identity("secret"))


def add(
    db: Session, actor: Actor, name: str, url: str, kinds: list[str], *, active: bool = True
) -> Created:
    actor.require_admin("add webhooks")
    name = name.strip()
    if not name:
        raise InvalidInput("Give the webhook a name.", field="name")
    if db.scalar(select(WebhookSubscription.id).where(WebhookSubscription.name == name)):
        raise Conflict(f"A webhook named {name} exists: choose another name.")
    row = WebhookSubscription(name=name, url=check_url(url), events=check_events(kinds))
    row.active = active
    db.add(row)
    db.flush()  # the id is part of the secret's associated data
    secret = _new_secret(row)
    audit.record(db, actor, "webhook.added", name, url=row.url, events=row.events)
    return Created(row, secret)


def get(db: Session, actor: Actor, name: str) -> WebhookSubscription:
    actor.require_admin("see webhooks")
    row = db.scalar(select(WebhookSubscription).where(WebhookSubscription.name == name.strip()))
    if row is None:
        raise NotFound(f"No webhook {name}: `postroom webhook list` shows them.")
    return row


def set_active(db: Session, actor: Actor, name: str, active: bool) -> WebhookSubscription:
    row = get(db, actor, name)
    row.active = active
    audit.record(db, actor, "webhook.enabled" if active else "webhook.disabled", row.name)
    return row


def remove(db: Session, actor: Actor, name: str) -> None:
    row = get(db, actor, name)
    audit.record(db, actor, "webhook.removed", row.name, url=row.url)
    db.delete(row)


def rotate_secret(db: Session, actor: Actor, name: str) -> Created:
    """A new secret at once; the old one stops signing (receivers switch when told)."""
    row = get(db, actor, name)
    secret = _new_secret(row)
    audit.record(db, actor, "webhook.secret-rotated", row.name)
    return Created(row, secret)


def queue_test(db: Session, actor: Actor, name: str) -> str:
    """A webhook.test event for this subscription alone; returns the delivery's uid."""
    row = get(db, actor, name)
    if not row.active:
        raise Conflict(f"Webhook {row.name} is off: switch it on to send it a test event.")
    payload = events.envelope(events.TEST_EVENT, {"webhook": row.name})
    audit.record(db, actor, "webhook.tested", row.name)
    return events.queue(db, events.TEST_EVENT, payload, [row.id])[0]


def deliveries(
    db: Session, actor: Actor, state: str | None = None, limit: int = 100, *, offset: int = 0
) -> list[WebhookDelivery]:
    actor.require_admin("see webhook deliveries")
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc())
    if state:
        if state not in STATES:
            raise InvalidInput(f"No state {state!r}: choose {', '.join(STATES)}.", field="state")
        query = query.where(WebhookDelivery.state == state)
    if limit:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return list(db.scalars(query))


def delivery(db: Session, actor: Actor, delivery_id: int | str) -> WebhookDelivery:
    actor.require_admin("see webhook deliveries")
    column = WebhookDelivery.uid if isinstance(delivery_id, str) else WebhookDelivery.id
    row = db.scalar(select(WebhookDelivery).where(column == delivery_id))
    if row is None:
        raise NotFound(f"No delivery {delivery_id}: `postroom webhook deliveries` shows them.")
    return row


def redeliver(db: Session, actor: Actor, delivery_id: int) -> WebhookDelivery:
    """Queue a delivery again now, with a fresh deadline; the receiver dedupes by its uid."""
    row = delivery(db, actor, delivery_id)
    if row.state == "delivering":
        raise Conflict(f"Delivery {delivery_id} is being sent right now; wait for its outcome.")
    now = utcnow()
    row.state, row.next_attempt_at, row.deadline_at = "pending", now, now + events.DEADLINE
    audit.record(db, actor, "webhook.redelivered", row.uid, webhook=row.subscription.name)
    return row
