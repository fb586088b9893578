"""An inbound bounce for an email we sent marks its outbox item and recipients as bounced."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from postroom.outbound.bounces import read_dsn
from postroom.services import events
from postroom.storage.models import OutboxItem


def record(db: Session, raw: bytes) -> OutboxItem | None:
    """The outbox item this report is about, updated; None when it is about no email of ours."""
    dsn = read_dsn(raw)
    if dsn is None or not dsn.failed or (dsn.original_message_id is None and dsn.outbox_id is None):
        return None
    conditions = []
    if dsn.original_message_id is not None:
        conditions.append(OutboxItem.message_id == dsn.original_message_id)
    if dsn.outbox_id is not None:
        conditions.append(OutboxItem.id == dsn.outbox_id)
    item = db.scalar(select(OutboxItem).where(or_(*conditions)).limit(1))
    if item is None:
        return None
    failed = {f.address: f for f in dsn.failed}
    for recipient in item.recipients:
        report = failed.get(recipient.address.lower())
        if report is not None:
            recipient.status = "bounced"
            recipient.detail = f"{report.status} {report.diagnostic}".strip()
    item.last_error = "; ".join(f"{f.address}: {f.status} {f.diagnostic}" for f in dsn.failed)
    if item.state != "bounced" and all(r.status in ("bounced", "refused") for r in item.recipients):
        item.state = "bounced"
        events.outbox_outcome(db, item)
    return item
