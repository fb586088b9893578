"""Tell people before things break: a `doctor.warning` webhook event and an email to the
mailbox's owner (the administrators, for system mailboxes, servers and webhooks), at most
once a day a finding, however often the workers run the doctor."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from postroom.config import get_settings
from postroom.errors import PostroomError
from postroom.outbound.compose import Draft
from postroom.services import events, reconnects
from postroom.services.actors import SYSTEM
from postroom.services.doctor import examine
from postroom.services.doctor.model import Finding
from postroom.storage.db import unit_of_work
from postroom.storage.models import DoctorNotice, User, aware

log = logging.getLogger(__name__)

ONCE_A = timedelta(days=1)


def notify(engine: Engine, within_days: int | None = None) -> list[str]:
    """Run the doctor and tell what is due; returns the keys of the findings told now."""
    days = get_settings().doctor_within_days if within_days is None else within_days
    report = examine(engine, SYSTEM, days)
    now = report.snapshot.now
    told: list[str] = []
    with unit_of_work(engine) as db:
        notices = {n.finding: n for n in db.scalars(select(DoctorNotice))}
        for finding in report.due:
            notice = notices.get(finding.key)
            if notice is not None and aware(notice.notified_at) > now - ONCE_A:
                continue
            events.emit(db, "doctor.warning", finding.as_dict(now, days))
            _email(db, finding, now)
            if notice is None:
                db.add(DoctorNotice(finding=finding.key, notified_at=now))
            else:
                notice.notified_at = now
            told.append(finding.key)
    return told


def _recipients(db: Session, finding: Finding) -> list[str]:
    if finding.owner_id is not None:
        owner = db.get(User, finding.owner_id)
        if owner is not None:
            return [owner.email]
    return list(db.scalars(select(User.email).where(User.is_admin).order_by(User.id)))


def _email(db: Session, finding: Finding, now: datetime) -> None:
    # Imported here: the outbox sends through OAuth mailboxes, whose module uses reconnects.
    from postroom.services import outbox

    recipients = _recipients(db, finding)
    route = reconnects.notice_connection(db, finding.mailbox_id)
    if not recipients or route is None:
        log.warning(
            "doctor: %s: %s; nobody could be told by email", finding.subject, finding.problem
        )
        return
    when = "now" if finding.due_at <= now else f"on {finding.due_at:%Y-%m-%d}"
    draft = Draft(
        sender=route.mailbox.address,
        to=tuple(recipients),
        subject=f"postroom: {finding.subject} stops working {when}",
        text=f"{finding.problem}\n\nWhat to do: {finding.fix}\n\n"
        "`postroom doctor` (or the Doctor page in the console) lists everything that will stop "
        "working. This notice is repeated at most once a day while the finding stands.\n",
        auto="auto-generated",
    )
    try:
        outbox.enqueue(db, SYSTEM, draft, connection=route.name)
    except PostroomError as exc:
        log.warning("the doctor's notice about %s could not be queued: %s", finding.subject, exc)
