"""A mailbox whose sign-in is gone: visible in its state, in the audit log, and told by email
to its owner (and the admins, for a system mailbox) through the system connection, so nobody
learns days later that mail stopped."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.config import get_settings
from postroom.domain.settings import MailboxState
from postroom.errors import PostroomError
from postroom.outbound.compose import Draft
from postroom.services import audit, events, outbox
from postroom.services.actors import SYSTEM
from postroom.storage.models import Connection, Mailbox, User

log = logging.getLogger(__name__)


def mark(db: Session, mailbox: Mailbox, reason: str) -> None:
    """Only the first failure notifies; later ones only update the last error."""
    mailbox.last_error = reason
    if mailbox.state == MailboxState.NEEDS_RECONNECT.value:
        return
    before, mailbox.state = mailbox.state, MailboxState.NEEDS_RECONNECT.value
    events.mailbox_state_changed(db, mailbox, before)
    notified = _notify(db, mailbox, reason)
    audit.record(
        db, SYSTEM, "mailbox.needs-reconnect", mailbox.address, reason=reason, notified=notified
    )


def _recipients(db: Session, mailbox: Mailbox) -> list[str]:
    if mailbox.owner is not None:
        return [mailbox.owner.email]
    return list(db.scalars(select(User.email).where(User.is_admin).order_by(User.id)))


def notice_connection(db: Session, avoid_mailbox_id: int | None) -> Connection | None:
    """The connection postroom's own notices go through (POSTROOM_NOTIFY_CONNECTION, else the
    first), never through the mailbox the notice is about: a broken one cannot report itself."""
    name = get_settings().notify_connection
    query = select(Connection).order_by(Connection.id)
    if name:
        query = query.where(Connection.name == name)
    for route in db.scalars(query):
        if route.mailbox_id != avoid_mailbox_id:
            return route
    return None


def _notify(db: Session, mailbox: Mailbox, reason: str) -> list[str]:
    recipients = _recipients(db, mailbox)
    route = notice_connection(db, mailbox.id)
    if not recipients or route is None:
        log.warning("%s needs reconnecting; nobody could be told by email", mailbox.address)
        return []
    draft = Draft(
        sender=route.mailbox.address,
        to=tuple(recipients),
        subject=f"Reconnect {mailbox.address}: postroom can no longer reach it",
        text=(
            f"postroom lost access to {mailbox.address}: {reason}\n\n"
            "No mail is fetched or sent through it until someone signs in again: open the "
            f"mailbox in the console and choose Reconnect, or run\n"
            f"  postroom mailbox connect {mailbox.address} --oauth-app "
            f"{mailbox.oauth_app.name if mailbox.oauth_app else 'NAME'}\n"
        ),
        auto="auto-generated",
    )
    try:
        outbox.enqueue(db, SYSTEM, draft, connection=route.name)
    except PostroomError as exc:
        log.warning("the reconnect notice for %s could not be queued: %s", mailbox.address, exc)
        return []
    return recipients
