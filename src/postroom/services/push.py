"""Push from Microsoft 365 and Gmail: a notification says "look now", never what arrived.

Graph change notifications: one subscription a mailbox folder, made with Graph's validation
handshake, renewed a day before it expires (at most 10,080 minutes for messages), its
`clientState` (derived from the secret key, never stored) checked on every notification.
Lifecycle notifications: `reauthorizationRequired` renews at once, `subscriptionRemoved`
makes it again, `missed` fetches (the delta query finds what was missed).

Gmail: `users.watch` publishes to a Cloud Pub/Sub topic whose push subscription calls
/push/gmail with a Google-signed token (connectors/google_jwt.py); renewed daily. A push
fetches with history.list from the stored history id, so a dropped push is recovered by the
next one or by the safety poll, which stays, slower (SAFETY_POLL).

A notification wakes the mailbox durably (its next poll becomes now, which any worker
process reads) and, when a scheduler runs in this process, at once through `fetch_now`.
Without POSTROOM_PUBLIC_URL, or when a subscription cannot be made, the mailbox is polled and
`reason` says why (mailbox show, the console).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.orm import Session

from postroom.config import get_settings
from postroom.connectors import google_jwt
from postroom.connectors.gmail import GmailConnector
from postroom.connectors.graph import GraphConnector
from postroom.domain.endpoints import Credentials
from postroom.domain.settings import PUSHED, MailboxAccess, MailboxState, Protocol
from postroom.errors import PostroomError
from postroom.services import tokens
from postroom.services.servers import endpoint_of
from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox, PushSubscription, Server, aware, utcnow
from postroom.storage.secrets import derived_key

log = logging.getLogger(__name__)

GRAPH_PATH = "/push/graph"
GMAIL_PATH = "/push/gmail"
GRAPH_LIFETIME = timedelta(minutes=10_070)  # Graph allows at most 10,080 for messages
GRAPH_RENEW_AHEAD = timedelta(days=1)
GMAIL_RENEW_AHEAD = timedelta(days=6)  # a watch lasts 7 days: renewed daily
RETRY_AFTER = timedelta(minutes=10)  # a subscription that could not be made is tried again

Wake = Callable[[int], None]
NO_PUBLIC_URL = (
    "POSTROOM_PUBLIC_URL is not set, so the provider cannot notify postroom: "
    "this mailbox is polled."
)
DELEGATED = (
    "Graph sends no change notifications for a shared mailbox reached with a delegate's "
    "sign-in (Mail.Read.Shared): this mailbox is polled."
)
NO_TOPIC = (
    "POSTROOM_GMAIL_PUSH_TOPIC is not set (the Cloud Pub/Sub topic Gmail publishes to): "
    "this mailbox is polled."
)


def client_state(mailbox_id: int) -> str:
    """The secret Graph echoes in each notification for this mailbox: derived, never stored."""
    key = derived_key("graph-client-state")
    return hmac.new(key, f"mailbox/{mailbox_id}".encode(), hashlib.sha256).hexdigest()


# ------------------------------------------------------------------ subscriptions


def keep_up(engine: Engine, now: datetime | None = None) -> None:
    """Make, renew or explain each cloud mailbox's push channel; called by the workers."""
    now = now or utcnow()
    with unit_of_work(engine) as db:
        due = [
            (mailbox_id, protocol)
            for mailbox_id, protocol, state, expires in db.execute(
                select(
                    Mailbox.id,
                    Server.protocol,
                    PushSubscription.state,
                    PushSubscription.expires_at,
                )
                .join(Server, Server.id == Mailbox.incoming_server_id)
                .outerjoin(PushSubscription, PushSubscription.mailbox_id == Mailbox.id)
                .where(
                    Server.protocol.in_(PUSHED),
                    Mailbox.receive_enabled,
                    Mailbox.oauth_tokens.is_not(None),
                    Mailbox.state != MailboxState.DISABLED.value,
                )
            )
            if _due(protocol, state, expires, now)
        ]
    for mailbox_id, protocol in due:
        try:
            _keep_one(engine, mailbox_id, protocol, now)
        except Exception:  # one mailbox's surprise must not stop the others' renewals
            log.exception("keeping up push for mailbox %s failed unexpectedly", mailbox_id)


def _due(protocol: str, state: str | None, expires: datetime | None, now: datetime) -> bool:
    if state is None or expires is None:
        return True
    ahead = GRAPH_RENEW_AHEAD if protocol == Protocol.GRAPH.value else GMAIL_RENEW_AHEAD
    return aware(expires) - (ahead if state == "active" else timedelta(0)) <= now


def _keep_one(engine: Engine, mailbox_id: int, protocol: str, now: datetime) -> None:
    settings = get_settings()
    base = settings.push_base
    if base is None:
        _record(engine, mailbox_id, protocol, polling=NO_PUBLIC_URL)
        return
    if protocol == Protocol.GMAIL.value and not settings.gmail_push_topic:
        _record(engine, mailbox_id, protocol, polling=NO_TOPIC)
        return
    with unit_of_work(engine) as db:
        mailbox = db.get(Mailbox, mailbox_id)
        assert mailbox is not None and mailbox.incoming_server is not None
        endpoint, folder = endpoint_of(mailbox.incoming_server), mailbox.folder
        delegated = mailbox.access == MailboxAccess.SHARED_DELEGATE.value
        row = _row(db, mailbox_id, protocol)
        existing = row.external_id if row.state == "active" else None
    if delegated and protocol == Protocol.GRAPH.value:
        _record(engine, mailbox_id, protocol, polling=DELEGATED)
        return
    try:
        credentials = tokens.credentials(engine, mailbox_id)
        if protocol == Protocol.GRAPH.value:

            def graph(given: Credentials) -> tuple[str, datetime]:
                connector = GraphConnector(endpoint, given)
                try:
                    expires = utcnow() + GRAPH_LIFETIME  # `now` only picks what is due
                    if existing is not None:
                        renewed = connector.renew(existing, expires)
                        if renewed is not None:
                            return existing, renewed
                    return connector.subscribe(
                        folder, base + GRAPH_PATH, client_state(mailbox_id), expires
                    )
                finally:
                    connector.close()

            made = tokens.with_renewal(engine, mailbox_id, credentials, graph)
            _record(engine, mailbox_id, protocol, active=made)
        else:
            topic = settings.gmail_push_topic
            assert topic is not None

            def gmail(given: Credentials) -> tuple[str, datetime]:
                connector = GmailConnector(endpoint, given)
                try:
                    _, expires = connector.watch(topic, folder)
                    return "", expires
                finally:
                    connector.close()

            _, expires = tokens.with_renewal(engine, mailbox_id, credentials, gmail)
            _record(engine, mailbox_id, protocol, active=(None, expires))
    except PostroomError as exc:
        _record(engine, mailbox_id, protocol, polling=f"push could not be set up ({exc}); "
                "this mailbox is polled, and postroom tries again in 10 minutes.")  # fmt: skip


def _row(db: Session, mailbox_id: int, protocol: str) -> PushSubscription:
    row = db.scalar(select(PushSubscription).where(PushSubscription.mailbox_id == mailbox_id))
    if row is None:
        row = PushSubscription(mailbox_id=mailbox_id, provider=protocol, state="polling")
        db.add(row)
        db.flush()
    return row


def _record(
    engine: Engine,
    mailbox_id: int,
    protocol: str,
    *,
    active: tuple[str | None, datetime] | None = None,
    polling: str | None = None,
) -> None:
    now = utcnow()
    with unit_of_work(engine) as db:
        row = _row(db, mailbox_id, protocol)
        row.provider = protocol
        if active is not None:
            row.state, row.reason, row.renewed_at = "active", None, now
            row.external_id, row.expires_at = active[0] or None, active[1]
        else:
            if row.state == "active" or row.reason != polling:
                log.info("mailbox %s is polled: %s", mailbox_id, polling)
            row.state, row.reason, row.external_id = "polling", polling, None
            row.expires_at = now + RETRY_AFTER


# ------------------------------------------------------------------ notifications


def graph_notified(engine: Engine, notifications: list[dict[str, Any]], wake: Wake) -> int:
    """Graph's POST: each notification whose clientState is right wakes its mailbox (and a
    lifecycle event renews or remakes the subscription). Returns how many were genuine."""
    genuine: set[int] = set()
    now = utcnow()
    with unit_of_work(engine) as db:
        for note in notifications:
            if not isinstance(note, dict):
                continue
            row = db.scalar(
                select(PushSubscription).where(
                    PushSubscription.provider == Protocol.GRAPH.value,
                    PushSubscription.external_id == str(note.get("subscriptionId", "")),
                )
            )
            if row is None or not hmac.compare_digest(
                str(note.get("clientState", "")), client_state(row.mailbox_id)
            ):
                log.warning("a Graph notification with an unknown subscription or a wrong "
                            "clientState was refused")  # fmt: skip
                continue
            event = note.get("lifecycleEvent")
            if event == "reauthorizationRequired":
                row.expires_at = now  # renewed at the workers' next round
            elif event == "subscriptionRemoved":
                row.state, row.external_id, row.expires_at = "polling", None, now
                row.reason = "Graph removed the subscription; postroom makes it again."
            genuine.add(row.mailbox_id)
        _wake_rows(db, genuine, now)
    for mailbox_id in genuine:
        wake(mailbox_id)
    return len(genuine)


def gmail_notified(engine: Engine, token: str | None, email: str, wake: Wake) -> int:
    """A Pub/Sub push, once its token is verified: wakes the Gmail mailboxes of `email`."""
    settings = get_settings()
    base = settings.push_base or ""
    audience = settings.gmail_push_audience or base + GMAIL_PATH
    google_jwt.verify(token or "", _keys(settings.google_jwks_url), audience,
                      settings.gmail_push_account)  # fmt: skip
    now = utcnow()
    with unit_of_work(engine) as db:
        ids = set(
            db.scalars(
                select(Mailbox.id)
                .join(PushSubscription, PushSubscription.mailbox_id == Mailbox.id)
                .where(
                    PushSubscription.provider == Protocol.GMAIL.value,
                    or_(
                        func.lower(Mailbox.oauth_account) == email.lower(),
                        func.lower(Mailbox.address) == email.lower(),
                    ),
                )
            )
        )
        _wake_rows(db, ids, now)
    for mailbox_id in ids:
        wake(mailbox_id)
    return len(ids)


_KEYS: dict[str, google_jwt.GoogleKeys] = {}


def _keys(url: str) -> google_jwt.GoogleKeys:
    if url not in _KEYS:
        _KEYS[url] = google_jwt.GoogleKeys(url)
    return _KEYS[url]


def _wake_rows(db: Session, mailbox_ids: set[int], now: datetime) -> None:
    """Durable: the owning worker, in whatever process, sees the cleared next poll at its next
    heartbeat and fetches at once (workers/ownership.py's `nudged`)."""
    if not mailbox_ids:
        return
    db.execute(update(Mailbox).where(Mailbox.id.in_(mailbox_ids)).values(next_poll_at=None))
    db.execute(
        update(PushSubscription)
        .where(PushSubscription.mailbox_id.in_(mailbox_ids))
        .values(notified_at=now)
    )
