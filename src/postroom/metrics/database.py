"""Gauges read from the database at scrape time: whatever process or host changed a row, one
scrape sees it, and nothing has to be kept in step. A handful of grouped queries a scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from postroom.domain.settings import MailboxState
from postroom.storage.models import (
    Mailbox,
    MailboxGap,
    Message,
    OutboxItem,
    WebhookDelivery,
    aware,
    utcnow,
)

OUTBOX_STATES = ("queued", "sending", "sent", "failed", "bounced", "uncertain")
DELIVERY_STATES = ("pending", "delivering", "delivered", "failed")


class DatabaseCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = utcnow()
        with self.engine.connect() as db:
            mailbox_states = dict(
                db.execute(select(Mailbox.state, func.count()).group_by(Mailbox.state)).all()
            )
            outbox = dict(
                db.execute(select(OutboxItem.state, func.count()).group_by(OutboxItem.state)).all()
            )
            deliveries = dict(
                db.execute(
                    select(WebhookDelivery.state, func.count()).group_by(WebhookDelivery.state)
                ).all()
            )
            held = dict(
                db.execute(
                    select(Message.held_reason, func.count())
                    .where(Message.status == "held")
                    .group_by(Message.held_reason)
                ).all()
            )
            mailboxes = db.execute(
                select(
                    Mailbox.id,
                    Mailbox.oauth_expires_at,
                    Mailbox.last_success_at,
                    Mailbox.created_at,
                ).where(Mailbox.receive_enabled | Mailbox.send_enabled)
            ).all()
            gaps = db.execute(select(MailboxGap.mailbox_id, MailboxGap.missing)).all()

        yield _by_label(
            "postroom_mailboxes",
            "Mailboxes by state",
            "state",
            {**{s.value: 0 for s in MailboxState}, **mailbox_states},
        )
        yield _by_label(
            "postroom_outbox_items",
            "Outbox items by state",
            "state",
            {**dict.fromkeys(OUTBOX_STATES, 0), **outbox},
        )
        yield _by_label(
            "postroom_webhook_deliveries",
            "Webhook deliveries by state",
            "state",
            {**dict.fromkeys(DELIVERY_STATES, 0), **deliveries},
        )
        yield _by_label(
            "postroom_held_messages",
            "Emails held now, by reason",
            "reason",
            {str(k or "held"): v for k, v in held.items()},
        )
        expiry = GaugeMetricFamily(
            "postroom_oauth_token_expiry_seconds",
            "Seconds until the mailbox's OAuth2 access token expires (negative: expired)",
            labels=["mailbox"],
        )
        since = GaugeMetricFamily(
            "postroom_mailbox_seconds_since_success",
            "Seconds since the mailbox was last reached (since it was added, if never)",
            labels=["mailbox"],
        )
        for mailbox_id, expires, success, created in mailboxes:
            if expires is not None:
                expiry.add_metric([str(mailbox_id)], (aware(expires) - now).total_seconds())
            since.add_metric([str(mailbox_id)], (now - aware(success or created)).total_seconds())
        yield expiry
        yield since
        gap = GaugeMetricFamily(
            "postroom_mailbox_gap_messages",
            "Emails on the server that postroom has not stored, at the last daily check",
            labels=["mailbox"],
        )
        for mailbox_id, missing in gaps:
            gap.add_metric([str(mailbox_id)], missing)
        yield gap


def _by_label(
    name: str, documentation: str, label: str, values: dict[str, int]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for value, count in sorted(values.items()):
        family.add_metric([value], count)
    return family
