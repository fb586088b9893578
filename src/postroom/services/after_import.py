"""After-import actions the server refused: recorded on the email, retried with backoff, and
never a reason to stop importing new mail (DESIGN invariant 8).

A refusal (NO, -ERR, an HTTP 4xx) is about those emails; a lost connection is not, so it still
ends the run and the mailbox backs off as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from postroom.connectors.base import AfterImport, Connector
from postroom.domain.settings import AfterImportKind
from postroom.errors import AuthFailed, CommandRefused, MailServerError, Transient, Unreachable
from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox, Message, PendingAction, aware, utcnow

FIRST_RETRY = timedelta(minutes=5)
LAST_RETRY = timedelta(hours=6)
SAME_ERROR_LIMIT = 3  # one by one, this many identical refusals mean the rest will fail alike


def refused(exc: Exception) -> bool:
    """The server answered, and said no to this action (not: it went away, or who we are)."""
    if isinstance(exc, CommandRefused):
        return True
    return isinstance(exc, MailServerError) and not isinstance(
        exc, Transient | Unreachable | AuthFailed
    )


def describe(action: AfterImport) -> str:
    if action.kind is AfterImportKind.MOVE:
        return f"move to the folder {action.folder!r}"
    return {"mark-read": "mark as read", "delete": "delete"}.get(action.kind.value, "keep")


class Pending:
    """The refused actions of one mailbox during a run: which keys wait for their next try."""

    def __init__(self, engine: Engine, mailbox_id: int, action: AfterImport) -> None:
        self.engine, self.mailbox_id, self.action = engine, mailbox_id, action
        with unit_of_work(engine) as db:
            rows = db.execute(
                select(PendingAction.remote_key, PendingAction.next_attempt_at).where(
                    PendingAction.mailbox_id == mailbox_id
                )
            )
            self.waiting: dict[str, datetime] = {key: aware(at) for key, at in rows}

    def due(self, key: str, now: datetime) -> bool:
        at = self.waiting.get(key)
        return at is None or at <= now

    def acknowledge(self, connector: Connector, keys: Sequence[str]) -> None:
        """Apply the action; refusals are recorded per email and the run goes on."""
        if not keys:
            return
        failed: dict[str, str] = {}
        try:
            connector.acknowledge(keys, self.action)
        except Exception as exc:
            if not refused(exc):
                raise
            failed = self._one_by_one(connector, keys, str(exc))
        done = [k for k in keys if k not in failed and k in self.waiting]
        if done or failed:
            self._save(done, failed)

    def _one_by_one(self, connector: Connector, keys: Sequence[str], error: str) -> dict[str, str]:
        if len(keys) == 1:
            return {keys[0]: error}
        failed: dict[str, str] = {}
        errors: list[str] = []
        for index, key in enumerate(keys):
            if len(errors) >= SAME_ERROR_LIMIT and len(set(errors[-SAME_ERROR_LIMIT:])) == 1:
                failed.update(dict.fromkeys(keys[index:], errors[-1]))
                break
            try:
                connector.acknowledge([key], self.action)
            except Exception as exc:
                if not refused(exc):
                    raise
                failed[key] = str(exc)
                errors.append(str(exc))
        return failed

    def _save(self, done: list[str], failed: dict[str, str]) -> None:
        now = utcnow()
        with unit_of_work(self.engine) as db:
            if done:
                db.execute(
                    delete(PendingAction).where(
                        PendingAction.mailbox_id == self.mailbox_id,
                        PendingAction.remote_key.in_(done),
                    )
                )
            rows = {
                row.remote_key: row
                for row in db.scalars(
                    select(PendingAction).where(
                        PendingAction.mailbox_id == self.mailbox_id,
                        PendingAction.remote_key.in_(list(failed)),
                    )
                )
            }
            found = db.execute(
                select(Message.remote_key, Message.id).where(
                    Message.mailbox_id == self.mailbox_id, Message.remote_key.in_(list(failed))
                )
            )
            ids: dict[str | None, int] = {key: message_id for key, message_id in found}
            for key, error in failed.items():
                row = rows.get(key)
                if row is None:
                    row = PendingAction(mailbox_id=self.mailbox_id, remote_key=key, attempts=0)
                    db.add(row)
                row.message_id = ids.get(key)
                row.action = describe(self.action)
                row.attempts += 1
                row.last_error = error
                row.next_attempt_at = now + min(FIRST_RETRY * 2 ** (row.attempts - 1), LAST_RETRY)
                self.waiting[key] = row.next_attempt_at
        for key in done:
            self.waiting.pop(key, None)


def warning(db: Session, mailbox: Mailbox) -> str | None:
    """What the mailbox shows while actions wait: the action, the folder, the server's words."""
    rows = list(
        db.scalars(
            select(PendingAction)
            .where(PendingAction.mailbox_id == mailbox.id)
            .order_by(PendingAction.next_attempt_at)
        )
    )
    if not rows:
        return None
    first = rows[0]
    count = f"{len(rows)} email" + ("s" if len(rows) > 1 else "")
    return (
        f"After import, {first.action} failed for {count} (mail is still imported): "
        f"{first.last_error} Retried from {aware(first.next_attempt_at):%Y-%m-%d %H:%M} UTC."
    )
