"""Everything the checks read, in one short transaction of grouped queries."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postroom.domain.settings import Protocol
from postroom.services import oauth_apps
from postroom.services.doctor.model import MailboxView, ServerView, Snapshot, WebhookView
from postroom.storage.models import (
    Connection,
    Mailbox,
    MailboxGap,
    OutboxItem,
    Server,
    WebhookDelivery,
    WebhookSubscription,
    aware,
)

RECENT_FAILURES = timedelta(days=3)
RETRYING_AFTER = 3  # attempts before a pending delivery counts as failing


def _server(server: Server | None) -> ServerView | None:
    if server is None:
        return None
    return ServerView(
        server.id, server.name, server.protocol, server.host, server.port, server.security
    )


def _mailbox(mailbox: Mailbox, connections: tuple[str, ...]) -> MailboxView:
    app = mailbox.oauth_app
    protocols = {
        Protocol(s.protocol)
        for s in (mailbox.incoming_server, mailbox.outgoing_server)
        if s is not None
    }
    return MailboxView(
        id=mailbox.id,
        address=mailbox.address,
        owner_id=mailbox.owner_id,
        state=mailbox.state,
        last_error=mailbox.last_error,
        receive_enabled=mailbox.receive_enabled,
        send_enabled=mailbox.send_enabled,
        poll_interval=mailbox.poll_interval,
        last_success_at=aware(mailbox.last_success_at) if mailbox.last_success_at else None,
        created_at=aware(mailbox.created_at),
        oauth_provider=app.provider if app else None,
        oauth_scopes=oauth_apps.scopes_for(app, protocols) if app else "",
        oauth_signed_in=mailbox.oauth_tokens is not None,
        oauth_expires_at=aware(mailbox.oauth_expires_at) if mailbox.oauth_expires_at else None,
        incoming=_server(mailbox.incoming_server),
        outgoing=_server(mailbox.outgoing_server),
        connections=connections,
    )


def take(db: Session, now: datetime) -> Snapshot:
    routes: dict[int, list[str]] = defaultdict(list)
    for name, mailbox_id in db.execute(select(Connection.name, Connection.mailbox_id)):
        routes[mailbox_id].append(name)
    mailboxes = [
        _mailbox(m, tuple(sorted(routes[m.id])))
        for m in db.scalars(select(Mailbox).order_by(Mailbox.id))
    ]
    used = {s.id for m in mailboxes for s in (m.incoming, m.outgoing) if s is not None}
    servers = [
        view
        for s in db.scalars(select(Server).where(Server.id.in_(used)).order_by(Server.id))
        if (view := _server(s)) is not None
    ]
    uncertain = dict(
        db.execute(
            select(OutboxItem.mailbox_id, func.count())
            .where(OutboxItem.state == "uncertain")
            .group_by(OutboxItem.mailbox_id)
        ).all()
    )
    return Snapshot(
        now=now,
        mailboxes=mailboxes,
        servers=servers,
        uncertain={k or 0: v for k, v in uncertain.items()},
        webhooks=_webhooks(db, now),
        gaps=dict(db.execute(select(MailboxGap.mailbox_id, MailboxGap.missing)).all()),
    )


def _webhooks(db: Session, now: datetime) -> list[WebhookView]:
    failed = dict(
        db.execute(
            select(WebhookDelivery.subscription_id, func.count())
            .where(
                WebhookDelivery.state == "failed",
                WebhookDelivery.created_at >= now - RECENT_FAILURES,
            )
            .group_by(WebhookDelivery.subscription_id)
        ).all()
    )
    retrying = {
        sid: (count, deadline)
        for sid, count, deadline in db.execute(
            select(
                WebhookDelivery.subscription_id, func.count(), func.min(WebhookDelivery.deadline_at)
            )
            .where(
                WebhookDelivery.state.in_(("pending", "delivering")),
                WebhookDelivery.attempts >= RETRYING_AFTER,
            )
            .group_by(WebhookDelivery.subscription_id)
        )
    }
    views = []
    for sid, name in db.execute(select(WebhookSubscription.id, WebhookSubscription.name)):
        count, deadline = retrying.get(sid, (0, None))
        views.append(
            WebhookView(name, failed.get(sid, 0), count, aware(deadline) if deadline else None)
        )
    return views
