"""A copy of each sent email in the mailbox's IMAP Sent folder, for mailboxes that ask for one.

SMTP leaves no trace in the sender's mailbox, so mail clients APPEND a copy themselves; postroom
does the same once the email is sent. The copy is bookkeeping, never a reason to send again: a
failure is recorded on the item (`sent_copy` "failed" with the error), and `outbox retry`
asks for the copy again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from postroom.connectors.imap import ImapConnector
from postroom.errors import AuthFailed, PostroomError
from postroom.services.credentials import credentials_of
from postroom.services.outbox import COPIED_STATES, wants_sent_copy
from postroom.services.servers import endpoint_of
from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox, OutboxItem

BATCH = 200


@dataclass
class CopyResult:
    copied: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def copy_pending(engine: Engine) -> CopyResult:
    """Append what was sent and not yet copied, one IMAP session per mailbox."""
    result = CopyResult()
    with unit_of_work(engine) as db:
        due = db.execute(
            select(OutboxItem.id, OutboxItem.mailbox_id)
            .where(OutboxItem.sent_copy == "pending", OutboxItem.state.in_(COPIED_STATES))
            .order_by(OutboxItem.id)
            .limit(BATCH)
        ).all()
    by_mailbox: dict[int | None, list[int]] = defaultdict(list)
    for item_id, mailbox_id in due:
        by_mailbox[mailbox_id].append(item_id)
    for mailbox_id, item_ids in by_mailbox.items():
        try:
            _copy(engine, mailbox_id, item_ids, result)
        except PostroomError as exc:
            result.errors.append(str(exc))
            _give_up(engine, item_ids, str(exc), result)
    return result


def _copy(engine: Engine, mailbox_id: int | None, item_ids: list[int], result: CopyResult) -> None:
    with unit_of_work(engine) as db:
        mailbox = db.get(Mailbox, mailbox_id) if mailbox_id is not None else None
        if mailbox is None or not wants_sent_copy(mailbox):
            raise PostroomError("The mailbox no longer keeps copies in an IMAP Sent folder.")
        assert mailbox.incoming_server is not None and mailbox.sent_folder is not None
        endpoint = endpoint_of(mailbox.incoming_server)
        credentials = credentials_of(mailbox, mailbox.incoming_server)
        folder = mailbox.sent_folder
    if credentials is None:
        raise AuthFailed(f"{mailbox.address} has no password for its IMAP server.")
    connector = ImapConnector(endpoint, credentials)
    try:
        for item_id in item_ids:
            with unit_of_work(engine) as db:  # one item's bytes in memory at a time
                item = db.get(OutboxItem, item_id)
                assert item is not None and item.sent_at is not None
                connector.append_once(folder, item.message_id, item.raw, item.sent_at)
                item.sent_copy, item.sent_copy_error = "done", None
            result.copied += 1
    finally:
        connector.close()


def _give_up(engine: Engine, item_ids: list[int], error: str, result: CopyResult) -> None:
    with unit_of_work(engine) as db:
        for item in db.scalars(
            select(OutboxItem).where(OutboxItem.id.in_(item_ids), OutboxItem.sent_copy == "pending")
        ):
            item.sent_copy, item.sent_copy_error = "failed", error
            result.failed += 1
