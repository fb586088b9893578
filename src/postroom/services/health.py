"""A mailbox's health, receiving and sending apart: a refused send test says nothing about
fetching, and a good poll clears no send error. Each side keeps its state, last success and
last error."""

from __future__ import annotations

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from postroom.domain.settings import MailboxState
from postroom.errors import (
    AuthFailed,
    InvalidInput,
    Misconfigured,
    MissingRight,
    NeedsReconnect,
    PostroomError,
    ServerFault,
    TokenRejected,
    TryLater,
)
from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox, utcnow

STATES = {
    NeedsReconnect.code: MailboxState.NEEDS_RECONNECT,
    AuthFailed.code: MailboxState.AUTH_FAILED,
    MissingRight.code: MailboxState.AUTH_FAILED,
    TokenRejected.code: MailboxState.AUTH_FAILED,
    TryLater.code: MailboxState.RETRYING,
    ServerFault.code: MailboxState.SERVER_ERROR,
    Misconfigured.code: MailboxState.MISCONFIGURED,
    InvalidInput.code: MailboxState.MISCONFIGURED,  # e.g. mark-read asked of a POP3 server
}


def receive_state(failure: str | None) -> MailboxState:
    """The state a failure code means; anything unknown is taken as unreachable."""
    return STATES.get(failure or "", MailboxState.UNREACHABLE)


def record_send(db: Session, mailbox: Mailbox, failure: str | None, error: str | None) -> None:
    """The outcome of a send or a send test, on the sending side only."""
    now = utcnow()
    if error is None:
        mailbox.send_state, mailbox.send_error, mailbox.send_success_at = "ok", None, now
        return
    mailbox.send_state = receive_state(failure).value
    mailbox.send_error, mailbox.send_error_at = error, now


def record_receive(db: Session, mailbox: Mailbox, failure: str | None, error: str | None) -> None:
    """The outcome of a receive test, on the receiving side only."""
    now = utcnow()
    mailbox.last_checked_at = now
    if error is None:
        mailbox.state, mailbox.last_error, mailbox.last_success_at = "ok", None, now
        return
    mailbox.state = receive_state(failure).value
    mailbox.last_error, mailbox.last_error_at = error, now


def send_failed(engine: Engine, mailbox_id: int, exc: PostroomError) -> None:
    """The outbox could not open its route: the sending side shows why."""
    with unit_of_work(engine) as db:
        mailbox = db.get(Mailbox, mailbox_id)
        if mailbox is not None:
            record_send(db, mailbox, exc.code, str(exc))


def send_worked(engine: Engine, mailbox_id: int) -> None:
    """One conditional UPDATE a route: it writes only when sending was not already ok."""
    with unit_of_work(engine) as db:
        db.execute(
            update(Mailbox)
            .where(Mailbox.id == mailbox_id, Mailbox.send_state != "ok")
            .values(send_state="ok", send_error=None, send_success_at=utcnow())
        )
