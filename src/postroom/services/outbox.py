"""The outbox: queueing email, and what people do with it (list, show, retry, cancel).

The outbox row is the truth and the table is the queue: its Message-ID and bytes are fixed
here, at enqueue. Sending it (claims, leases, outcomes) is services/delivery.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from postroom.config import get_settings
from postroom.domain.outbox import STATES as STATES
from postroom.domain.outbox import Filter as Filter
from postroom.domain.settings import MailboxAccess, Protocol, SendMode
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.outbound.compose import Draft, check, compose, new_message_id, recipients
from postroom.outbound.links import rewrite_links
from postroom.outbound.retry import DEADLINE
from postroom.services import (
    audit,
    connections,
    idempotency,
    listings,
    mailboxes,
    outbox_states,
    requests,
)
from postroom.services.actors import OPERATOR, Actor
from postroom.storage.db import flushed_connection
from postroom.storage.models import Mailbox, OutboxItem, OutboxRecipient, utcnow

# Delivered to at least the server, so a Sent-folder copy is due; "uncertain" is not.
COPIED_STATES = ("sent", "bounced")
CANCELLABLE = ("queued", "deferred")  # not yet taken by a sender: cancelling sends nothing


def wants_sent_copy(mailbox: Mailbox) -> bool:
    """Decided at enqueue; services/sent_copies.py makes the copy once the email is sent."""
    server = mailbox.incoming_server
    return (
        bool(mailbox.sent_folder) and server is not None and server.protocol == Protocol.IMAP.value
    )


def on_behalf_of(mailbox: Mailbox) -> str | None:
    """The delegate named in Sender when a shared mailbox sends on their behalf; Send As and
    a mailbox's own mail carry From alone."""
    if (mailbox.access, mailbox.send_mode) == (
        MailboxAccess.SHARED_DELEGATE.value,
        SendMode.SEND_ON_BEHALF.value,
    ):
        return mailbox.oauth_account
    return None


def enqueue(
    db: Session,
    actor: Actor,
    draft: Draft,
    *,
    connection: str | None = None,
    idempotency_key: str | None = None,
    request_id: int | None = None,
    sending: Mailbox | None = None,
    kind: str = "email",
    audited: bool = True,
    content: str | None = None,
) -> OutboxItem:
    """Queue one email. The same idempotency key twice from one actor returns the first item
    and sends once; the same key for different content is a conflict, never a silent no-op.

    `sending` is a mailbox the caller has already decided the actor may send from (a reply
    from a workflow's system mailbox, its request checked); otherwise the sender must be one the
    actor manages, and a request the email is tagged with one the actor may see. `content` is
    what the caller was asked to send, when the draft holds more (a reply's thread headers).
    """
    key = idempotency_key.strip() if idempotency_key else None
    scope = idempotency.scope(actor)
    digest = content or idempotency.digest(draft, connection, request_id, kind)
    if key:
        existing = idempotency.earlier(db, scope, key, digest)
        if existing is not None:
            return existing
    if connection:
        actor.require_admin("send through a named connection")
    if request_id is not None and sending is None:
        requests.get(db, request_id, actor)  # another user's request is not found, as everywhere
    route = connections.get(db, connection) if connection else None
    if route is not None:
        mailbox = route.mailbox
    elif sending is not None:
        mailbox = sending
    else:
        mailbox = mailboxes.get_for(db, actor, draft.sender)
    if mailbox.outgoing_server is None or not mailbox.send_enabled:
        raise InvalidInput(f"{mailbox.address} cannot send: it has no outgoing server.")
    draft = check(
        replace(
            draft,
            sender=mailbox.address,
            delegate=on_behalf_of(mailbox),
            request_id=request_id or draft.request_id,
        )
    )
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
        idempotency_scope=scope if key else None,
        idempotency_digest=digest if key else None,
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
        kind=kind,
        sent_copy="pending" if wants_sent_copy(mailbox) else None,
    )
    db.add(item)
    try:
        db.flush()
    except IntegrityError as exc:  # the same key, queued at this instant by a parallel request
        if key is None:
            raise
        raise Conflict(
            f"Idempotency key {key!r} is being used by another submission right now: send "
            "again to get its outbox item."
        ) from exc
    item.raw = compose(draft, item.message_id, item.id)
    if audited:
        audit.record(db, actor, "outbox.queued", f"outbox {item.id}", to=len(item.recipients))
    return item


Q = TypeVar("Q", bound=Select[Any])  # what the query selects: whole rows, or only ids


def visible(query: Q, actor: Actor) -> Q:
    """A user sees what was sent from their own mailboxes; administrators see everything."""
    return listings.visible_outbox(query, actor)


def get(db: Session, item_id: int, actor: Actor = OPERATOR) -> OutboxItem:
    item = db.scalar(visible(select(OutboxItem).where(OutboxItem.id == item_id), actor))
    if item is None:
        raise NotFound(f"No outbox item {item_id}: `postroom outbox list` shows them.")
    return item


def listing(
    db: Session,
    state: str | None = None,
    limit: int = 100,
    *,
    actor: Actor = OPERATOR,
    offset: int = 0,
    narrowed: Filter | None = None,
) -> list[dict[str, Any]]:
    """Newest first, as services/listings.py reads them for the CLI, in this session's
    transaction; `state` alone is the short form of `narrowed`."""
    given = narrowed or Filter(state=state)
    return listings.outbox_items(flushed_connection(db), given, limit, actor=actor, offset=offset)


def retry(db: Session, actor: Actor, item_id: int) -> OutboxItem:
    """A person decides: send an uncertain or failed item again, to its unanswered recipients;
    send a deferred one now instead of after its backoff; or, for a sent one whose Sent-folder
    copy failed, make that copy again."""
    item = get(db, item_id, actor)
    if item.state in COPIED_STATES and item.sent_copy == "failed":
        item.sent_copy, item.sent_copy_error = "pending", None
        audit.record(db, actor, "outbox.copy-retried", f"outbox {item_id}")
        return item
    if item.state == "deferred":  # the provider's limit, not a backoff: sending now breaks it
        raise Conflict(
            f"Outbox item {item_id} waits for its provider's limit ({item.wait_reason}); "
            "it goes when the limit allows, and sending it earlier would be refused."
        )
    if outbox_states.state_of(item) == "deferred":
        item.next_attempt_at = utcnow()  # the next sender's turn takes it; nothing else changes
        audit.record(db, actor, "outbox.retried", f"outbox {item_id}", deferred=True)
        return item
    if item.state not in ("uncertain", "failed"):
        raise Conflict(
            f"Outbox item {item_id} is {item.state}; only uncertain, failed or deferred ones retry."
        )
    for recipient in item.recipients:
        if recipient.status != "accepted":
            recipient.status, recipient.code, recipient.detail = "pending", None, None
    now = utcnow()
    item.state, item.next_attempt_at, item.deadline_at = "queued", now, now + DEADLINE
    item.data_sent_at = None
    audit.record(db, actor, "outbox.retried", f"outbox {item_id}")
    return item


def cancel(db: Session, actor: Actor, item_id: int) -> OutboxItem:
    """Stop an email that no sender has taken yet. Conditional on its state, so an item a
    sender claims at this instant is either cancelled or sent, never both."""
    item = get(db, item_id, actor)
    done = db.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id, OutboxItem.state.in_(CANCELLABLE))
        .values(state="cancelled", last_error=f"Cancelled by {actor.label}.", wait_reason=None)
        .execution_options(synchronize_session=False)
    )
    db.refresh(item)
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            f"Outbox item {item_id} is {item.state}; only queued or deferred ones can be cancelled."
        )
    audit.record(db, actor, "outbox.cancelled", f"outbox {item_id}")
    return item
