"""Servers, workflows and mailboxes as the dicts the CLI's --json, the API and the console show,
read through SQLAlchemy Core on the tables of `storage/tables.py`.

Why Core: a read-only `postroom` call must start in ≤ 0.3 s, and the ORM's import and mapper
set-up alone used that up (storage/tables.py). A listing is one SELECT with its joins, so a
thousand mailboxes cost one query, not one per related row. `present.py` hands an ORM row here
by id after a flush, so each of these kinds leaves the process through one function. Secrets
never appear: only whether one is set.
"""

from __future__ import annotations

import typing
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    and_,
    func,
    not_,
    or_,
    select,
)

from postroom.domain.outbox import Filter
from postroom.domain.settings import PUSHED, workflow_status
from postroom.errors import InvalidInput, NotFound
from postroom.outbound.limits import Rate
from postroom.storage import tables

if TYPE_CHECKING:
    from postroom.services.actors import Actor


def when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _aware(moment: datetime | None) -> str | None:
    """SQLite hands back naive datetimes; postroom writes them in UTC."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def servers(db: Connection) -> list[dict[str, Any]]:
    return list(_servers(db, None).values())


def servers_by_id(db: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    return _servers(db, ids)


def _servers(db: Connection, ids: list[int] | None) -> dict[int, dict[str, Any]]:
    s = tables.servers
    query = select(s).order_by(s.c.name)
    if ids is not None:
        query = query.where(s.c.id.in_(ids))
    return {
        row.id: {
            "name": row.name,
            "protocol": row.protocol,
            "host": row.host,
            "port": row.port,
            "security": row.security,
            "connect_timeout": row.connect_timeout,
            "timeout": row.timeout,
            "login_format": row.login_format,
            "verify_tls": row.verify_tls,
            "provider_domains": list(row.provider_domains or []),
            "max_connections": row.max_connections,
            "send_rate": str(Rate(row.send_rate, row.send_rate_seconds or 60))
            if row.send_rate
            else None,
            "recipients_per_day": row.recipients_per_day,
        }
        for row in db.execute(query)
    }


def workflows(db: Connection, *, include_deleted: bool = False) -> list[dict[str, Any]]:
    w = tables.workflows
    query = select(w).order_by(w.c.name)
    if not include_deleted:
        query = query.where(w.c.deleted_at.is_(None))
    return list(_workflows(db, query).values())


def workflows_by_id(db: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    return _workflows(db, select(tables.workflows).where(tables.workflows.c.id.in_(ids)))


def _workflows(db: Connection, query: Select[Any]) -> dict[int, dict[str, Any]]:
    st = tables.workflow_steps
    rows = list(db.execute(query))
    steps: dict[int, list[str]] = defaultdict(list)
    wanted = select(st.c.workflow_id, st.c.name).order_by(st.c.workflow_id, st.c.position)
    for step in db.execute(wanted.where(st.c.workflow_id.in_([r.id for r in rows]))):
        steps[step.workflow_id].append(step.name)
    return {
        row.id: {
            "name": row.name,
            "steps": steps[row.id],
            "active": row.active,
            "status": workflow_status(row.active, row.deleted_at),
            "thread_same_domain": row.thread_same_domain,
            "acknowledgement": (
                {"subject": row.acknowledgement_subject, "body": row.acknowledgement_body}
                if row.acknowledgement_body is not None
                else None
            ),
        }
        for row in rows
    }


def _mailbox_query() -> Select[Any]:
    """Each mailbox with the names of what it refers to and its push channel, in one SELECT."""
    m, u, w, app, push = (
        tables.mailboxes,
        tables.users,
        tables.workflows,
        tables.oauth_apps,
        tables.push_subscriptions,
    )
    incoming, outgoing = tables.servers.alias("incoming"), tables.servers.alias("outgoing")
    return (
        select(
            m,
            u.c.email.label("owner_email"),
            incoming.c.name.label("incoming_name"),
            incoming.c.protocol.label("incoming_protocol"),
            outgoing.c.name.label("outgoing_name"),
            app.c.name.label("oauth_app_name"),
            w.c.name.label("workflow_name"),
            w.c.active.label("workflow_active"),
            w.c.deleted_at.label("workflow_deleted_at"),
            push.c.id.label("push_id"),
            push.c.state.label("push_state"),
            push.c.reason.label("push_reason"),
            push.c.expires_at.label("push_expires_at"),
            push.c.notified_at.label("push_notified_at"),
        )
        .outerjoin(u, u.c.id == m.c.owner_id)
        .outerjoin(incoming, incoming.c.id == m.c.incoming_server_id)
        .outerjoin(outgoing, outgoing.c.id == m.c.outgoing_server_id)
        .outerjoin(app, app.c.id == m.c.oauth_app_id)
        .outerjoin(w, w.c.id == m.c.workflow_id)
        .outerjoin(push, push.c.mailbox_id == m.c.id)
    )


def mailboxes(db: Connection, actor: Actor) -> list[dict[str, Any]]:
    """The mailboxes the actor may manage: all for an administrator, a user's own otherwise;
    system mailboxes first, then by address."""
    m = tables.mailboxes
    query = _mailbox_query().order_by(m.c.owner_id.is_not(None), m.c.address, m.c.id)
    if not actor.is_admin:
        query = query.where(m.c.owner_id == actor.user_id)
    return [_mailbox(row) for row in db.execute(query)]


def mailboxes_by_id(db: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """For rows already chosen under the caller's rights (services/present.py)."""
    query = _mailbox_query().where(tables.mailboxes.c.id.in_(ids))
    return {row.id: _mailbox(row) for row in db.execute(query)}


def _mailbox(row: Row[Any]) -> dict[str, Any]:
    workflow = row.workflow_name is not None
    return {
        "address": row.address,
        "display_name": row.display_name,
        "kind": "system" if row.owner_id is None else "personal",
        "owner": row.owner_email,
        "default": row.is_default,
        "incoming": row.incoming_name,
        "outgoing": row.outgoing_name,
        "receive": row.receive_enabled,
        "send": row.send_enabled,
        "username": row.username,
        "login_format": row.login_format,
        "password_set": row.password is not None,
        "oauth_app": row.oauth_app_name,
        "oauth_account": row.oauth_account,
        "access": row.access,  # own, shared-app-only, shared-delegate
        "send_mode": row.send_mode,  # a delegate's: send-as or send-on-behalf
        "oauth_tokens_set": row.oauth_tokens is not None,
        "oauth_expires_at": when(row.oauth_expires_at),
        "workflow": row.workflow_name,
        "workflow_status": workflow_status(row.workflow_active, row.workflow_deleted_at)
        if workflow
        else None,
        "after_import": row.after_import,
        "folder": row.folder,
        "sent_folder": row.sent_folder,
        "poll_interval": row.poll_interval,
        "state": row.state,
        "last_error": row.last_error,
        "last_checked_at": when(row.last_checked_at),
        "last_success_at": when(row.last_success_at),
        "last_error_at": when(row.last_error_at),
        "warning": row.warning,
        "login_delay": row.login_delay,
        # Receiving (`state` above) and sending fail apart; each keeps its own health.
        "receive_health": {
            "state": row.state,
            "last_error": row.last_error,
            "last_error_at": when(row.last_error_at),
            "last_success_at": when(row.last_success_at),
        },
        "send_health": {
            "state": row.send_state,
            "last_error": row.send_error,
            "last_error_at": when(row.send_error_at),
            "last_success_at": when(row.send_success_at),
        },
        "push": _push(row),
        "sync": [
            k for k, on in (("contacts", row.sync_contacts), ("calendar", row.sync_calendar)) if on
        ],
        "dav_url": row.dav_url,
    }


def _push(row: Row[Any]) -> dict[str, Any] | None:
    """Graph and Gmail mailboxes: pushed, or polled and why."""
    if row.incoming_protocol not in PUSHED:
        return None
    if row.push_id is None:
        return {
            "state": "polling",
            "reason": "push is set up by the workers (postroom serve or postroom worker).",
            "expires_at": None,
            "notified_at": None,
        }
    return {
        "state": row.push_state,
        "reason": row.push_reason,
        "expires_at": _aware(row.push_expires_at),
        "notified_at": _aware(row.push_notified_at),
    }


# Administration: users, OAuth apps, connections, webhooks and metrics tokens. The rights are
# checked here as the ORM services check them, before anything is read.


def users(db: Connection, actor: Actor) -> list[dict[str, Any]]:
    actor.require_admin("list users")
    return list(_users(db, None).values())


def users_by_id(db: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    return _users(db, ids)


def _users(db: Connection, ids: list[int] | None) -> dict[int, dict[str, Any]]:
    u = tables.users
    query = select(u).order_by(u.c.email)
    if ids is not None:
        query = query.where(u.c.id.in_(ids))
    return {
        row.id: {
            "email": row.email,
            "display_name": row.display_name,
            "admin": row.is_admin,
            "disabled": row.disabled_at is not None,
            "must_change_password": row.must_change_password,
        }
        for row in db.execute(query)
    }


def oauth_apps(db: Connection) -> list[dict[str, Any]]:
    return list(_oauth_apps(db, select(tables.oauth_apps)).values())


def oauth_apps_by_id(db: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    return _oauth_apps(db, select(tables.oauth_apps).where(tables.oauth_apps.c.id.in_(ids)))


def oauth_app(db: Connection, name: str) -> dict[str, Any]:
    query = select(tables.oauth_apps).where(tables.oauth_apps.c.name == name.strip())
    for found in _oauth_apps(db, query).values():
        return found
    raise NotFound(f"No OAuth app named {name!r}: `postroom oauth-app list` shows them.")


def _oauth_apps(db: Connection, query: Select[Any]) -> dict[int, dict[str, Any]]:
    return {
        row.id: {
            "name": row.name,
            "provider": row.provider,
            "tenant": row.tenant,
            "client_id": row.client_id,
            "client_secret_set": row.client_secret is not None,
            "authorize_url": row.authorize_url,
            "token_url": row.token_url,
            "scopes": row.scopes,
        }
        for row in db.execute(query.order_by(tables.oauth_apps.c.name))
    }


def connections(db: Connection) -> list[dict[str, Any]]:
    return list(_connections(db, None).values())


def connections_by_id(db: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    return _connections(db, ids)


def _connections(db: Connection, ids: list[int] | None) -> dict[int, dict[str, Any]]:
    c, m = tables.connections, tables.mailboxes
    query = (
        select(c, m.c.address.label("mailbox_address"))
        .join(m, m.c.id == c.c.mailbox_id)
        .order_by(c.c.name)
    )
    if ids is not None:
        query = query.where(c.c.id.in_(ids))
    return {
        row.id: {
            "name": row.name,
            "mailbox": row.mailbox_address,
            "security": row.security,
            "connect_timeout": row.connect_timeout,
            "send_timeout": row.send_timeout,
            "auth": row.auth,
            "action_base_url": row.action_base_url,
        }
        for row in db.execute(query)
    }


def webhooks(db: Connection, actor: Actor) -> list[dict[str, Any]]:
    actor.require_admin("see webhooks")
    return list(_webhooks(db, select(tables.webhook_subscriptions)).values())


def webhooks_by_id(db: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    w = tables.webhook_subscriptions
    return _webhooks(db, select(w).where(w.c.id.in_(ids)))


def webhook(db: Connection, actor: Actor, name: str) -> dict[str, Any]:
    actor.require_admin("see webhooks")
    w = tables.webhook_subscriptions
    for found in _webhooks(db, select(w).where(w.c.name == name.strip())).values():
        return found
    raise NotFound(f"No webhook {name}: `postroom webhook list` shows them.")


def _webhooks(db: Connection, query: Select[Any]) -> dict[int, dict[str, Any]]:
    """Never the signing secret: only whether one is set (add and rotate-secret show it once)."""
    return {
        row.id: {
            "name": row.name,
            "url": row.url,
            "events": list(row.events),
            "active": row.active,
            "secret_set": row.secret is not None,
            "created_at": when(row.created_at),
        }
        for row in db.execute(query.order_by(tables.webhook_subscriptions.c.name))
    }


class TokenRow(typing.Protocol):
    """What API tokens (the ORM's, services/present.py) and metrics tokens have in common."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def prefix(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def last_used_at(self) -> datetime | None: ...
    @property
    def revoked_at(self) -> datetime | None: ...


def token(row: TokenRow) -> dict[str, Any]:
    """Never the secret nor its hash: only the prefix a person tells their tokens apart by."""
    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "created_at": row.created_at.isoformat(),
        "last_used_at": when(row.last_used_at),
        "revoked": row.revoked_at is not None,
    }


def metrics_tokens(db: Connection, actor: Actor) -> list[dict[str, Any]]:
    actor.require_admin("see metrics tokens")
    return list(_metrics_tokens(db, None).values())


def metrics_tokens_by_id(db: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    return _metrics_tokens(db, ids)


def _metrics_tokens(db: Connection, ids: list[int] | None) -> dict[int, dict[str, Any]]:
    """A machine's credential belongs to no user: who made it is shown instead."""
    t = tables.metrics_tokens
    query = select(t).order_by(t.c.id)
    if ids is not None:
        query = query.where(t.c.id.in_(ids))
    return {row.id: token(row) | {"created_by": row.created_by} for row in db.execute(query)}


# --- Requests, held messages and the outbox (postroom request/held/outbox list) ---------------
# Who sees what is decided here, in the query, for the CLI, the API and the console alike; the
# ORM services (requests, held, outbox) narrow their own reads with the same functions.

Q = TypeVar("Q", bound=Select[Any])


def workflow_ids_of(actor: Actor) -> Select[tuple[int]]:
    wm = tables.workflow_members
    return select(wm.c.workflow_id).where(wm.c.user_id == actor.user_id)


def visible_requests(query: Q, actor: Actor) -> Q:
    """Administrators see every request; a user those of the workflows they are given."""
    if actor.is_admin:
        return query
    return query.where(tables.requests.c.workflow_id.in_(workflow_ids_of(actor)))


def visible_messages(query: Q, actor: Actor) -> Q:
    """A user sees the messages of their own mailboxes and of the workflows they are given."""
    if actor.is_admin:
        return query
    m = tables.mailboxes
    theirs = select(m.c.id).where(
        or_(m.c.owner_id == actor.user_id, m.c.workflow_id.in_(workflow_ids_of(actor)))
    )
    return query.where(tables.messages.c.mailbox_id.in_(theirs))


def visible_outbox(query: Q, actor: Actor) -> Q:
    """A user sees what was sent from their own mailboxes; administrators see everything."""
    if actor.is_admin:
        return query
    theirs = select(tables.mailboxes.c.id).where(tables.mailboxes.c.owner_id == actor.user_id)
    return query.where(tables.outbox_items.c.mailbox_id.in_(theirs))


def step_named(steps: Sequence[Any], name: str) -> Any:
    """One of a workflow's steps (ORM rows or Core rows, in order), by name, any case."""
    for step in steps:
        if step.name.lower() == name.strip().lower():
            return step
    names = ", ".join(s.name for s in steps)
    raise InvalidInput(f"No step {name!r} in this workflow: choose one of {names}.", field="step")


def requests(
    db: Connection,
    workflow: str | None = None,
    limit: int = 50,
    *,
    actor: Actor,
    step: str | None = None,
    search: str | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Newest first; a workflow's name (removed ones too) and one of its steps narrow it."""
    r = tables.requests
    query = visible_requests(_request_query().order_by(r.c.id.desc()), actor)
    if workflow:
        w, st = tables.workflows, tables.workflow_steps
        chosen = db.scalar(select(w.c.id).where(w.c.name == workflow.strip()))
        if chosen is None:
            raise NotFound(f"No workflow named {workflow!r}: `postroom workflow list` shows them.")
        query = query.where(r.c.workflow_id == chosen)
        if step:
            steps = db.execute(
                select(st.c.id, st.c.name).where(st.c.workflow_id == chosen).order_by(st.c.position)
            )
            query = query.where(r.c.step_id == step_named(list(steps), step).id)
    elif step:
        raise InvalidInput("Choose a workflow to filter by one of its steps.", field="step")
    if search and search.strip():
        words = search.strip().lstrip("#")
        conditions: list[ColumnElement[bool]] = [
            r.c.subject.ilike(f"%{words}%"),
            r.c.requester.ilike(f"%{words}%"),
        ]
        if words.isdigit():
            conditions.append(r.c.id == int(words))
        query = query.where(or_(*conditions))
    if limit:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [_request(row) for row in db.execute(query)]


def requests_by_id(db: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """For rows already chosen under the caller's rights (services/present.py)."""
    query = _request_query().where(tables.requests.c.id.in_(ids))
    return {row.id: _request(row) for row in db.execute(query)}


def _request_query() -> Select[Any]:
    """Each request with its workflow's and step's names and how many emails it holds."""
    r, w, st, m = tables.requests, tables.workflows, tables.workflow_steps, tables.messages
    # Counted per request shown, through the index on messages.request_id: a page of 50 never
    # groups every stored email.
    counted = select(func.count()).where(m.c.request_id == r.c.id).scalar_subquery()
    return (
        select(
            r.c.id,
            w.c.name.label("workflow_name"),
            st.c.name.label("step_name"),
            r.c.subject,
            r.c.requester,
            r.c.created_at,
            counted.label("n"),
        )
        .join(w, w.c.id == r.c.workflow_id)
        .outerjoin(st, st.c.id == r.c.step_id)
    )


def _request(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "workflow": row.workflow_name,
        "step": row.step_name,
        "subject": row.subject,
        "requester": row.requester,
        "messages": row.n or 0,
        "created_at": row.created_at.isoformat(),
    }


# Not the raw bytes: a list of held mail reads no email.
_HELD = ("id", "held_reason", "sender", "subject", "size", "received_at", "remote_key", "rule_hits")


def held(
    db: Connection,
    reason: str | None = None,
    limit: int = 100,
    *,
    actor: Actor,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Held messages, newest first, of one reason or all."""
    m = tables.messages
    query = (
        select(*(tables.messages.c[name] for name in _HELD))
        .where(m.c.status == "held")
        .order_by(m.c.id.desc())
    )
    if reason:
        query = query.where(m.c.held_reason == reason)
    if limit:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [_held(row) for row in db.execute(visible_messages(query, actor))]


def held_by_id(db: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """For messages already chosen under the caller's rights, held or not (services/held.py)."""
    query = select(*(tables.messages.c[name] for name in _HELD)).where(
        tables.messages.c.id.in_(ids)
    )
    return {row.id: _held(row) for row in db.execute(query)}


def _held(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "reason": row.held_reason,
        "sender": row.sender,
        "subject": row.subject,
        "size": row.size,
        "received_at": row.received_at.isoformat(),
        "remote_key": row.remote_key,  # a quarantined email's key on the server
        "rules": row.rule_hits,
    }


def outbox_items(
    db: Connection,
    narrowed: Filter,
    limit: int = 100,
    *,
    actor: Actor,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Newest first, narrowed by state (as a person reads it), sending mailbox, connection,
    part of a recipient's address and the days it was queued."""
    narrowed.check()
    o = tables.outbox_items
    query = _outbox_narrowed(_outbox_query().order_by(o.c.id.desc()), narrowed)
    if limit:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return list(_outbox_items(db, visible_outbox(query, actor)).values())


def outbox_items_by_id(db: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """For rows already chosen under the caller's rights (services/present.py)."""
    return _outbox_items(db, _outbox_query().where(tables.outbox_items.c.id.in_(ids)))


def outbox_shown_as(state: str) -> ColumnElement[bool]:
    """The rows a person means by a state, as domain/outbox.shown_state tells them:
    "deferred" is also a queued row that a server turned away, and "queued" only one waiting
    for its first try."""
    o, rc = tables.outbox_items, tables.outbox_recipients
    answered = o.c.id.in_(
        select(rc.c.item_id).where(rc.c.status == "pending", rc.c.code.is_not(None))
    )
    if state == "deferred":
        return or_(o.c.state == "deferred", and_(o.c.state == "queued", answered))
    if state == "queued":
        return and_(o.c.state == "queued", not_(answered))
    return o.c.state == state


def _day(value: date) -> datetime:
    return datetime.combine(value, time.min, tzinfo=UTC)


def _outbox_narrowed(query: Q, given: Filter) -> Q:
    o, m, c = tables.outbox_items, tables.mailboxes, tables.connections
    if given.state:
        query = query.where(outbox_shown_as(given.state))
    if given.mailbox:
        address = given.mailbox.strip().lower()
        query = query.where(o.c.mailbox_id.in_(select(m.c.id).where(m.c.address == address)))
    if given.connection:
        named = select(c.c.id).where(c.c.name == given.connection.strip())
        query = query.where(o.c.connection_id.in_(named))
    if given.recipient:
        part = given.recipient.strip().lower()
        rc = tables.outbox_recipients
        query = query.where(o.c.id.in_(select(rc.c.item_id).where(rc.c.address.contains(part))))
    if given.since:
        query = query.where(o.c.created_at >= _day(given.since))
    if given.until:
        query = query.where(o.c.created_at < _day(given.until + timedelta(days=1)))
    return query


def _outbox_query() -> Select[Any]:
    """Each item with the name of the connection it went through; not its bytes."""
    o, c = tables.outbox_items, tables.connections
    return select(
        *(col for col in o.c if col.key != "raw"), c.c.name.label("connection_name")
    ).outerjoin(c, c.c.id == o.c.connection_id)


def _outbox_items(db: Connection, query: Select[Any]) -> dict[int, dict[str, Any]]:
    rc = tables.outbox_recipients
    rows = list(db.execute(query))
    recipients: dict[int, list[dict[str, Any]]] = defaultdict(list)
    wanted = select(rc).where(rc.c.item_id.in_([r.id for r in rows])).order_by(rc.c.id)
    for r in db.execute(wanted):
        recipients[r.item_id].append(
            {"address": r.address, "status": r.status, "code": r.code, "detail": r.detail}
        )
    return {row.id: _outbox_item(row, recipients[row.id]) for row in rows}


def _outbox_item(row: Row[Any], recipients: list[dict[str, Any]]) -> dict[str, Any]:
    deferred = row.state == "deferred"
    return {
        "id": row.id,
        "kind": row.kind,
        "state": row.state,
        "message_id": row.message_id,
        "sender": row.sender,
        "connection": row.connection_name,
        "subject": row.subject,
        "attempts": row.attempts,
        "next_attempt_at": (
            _aware(row.next_attempt_at) if row.state in ("queued", "deferred") else None
        ),
        "wait_reason": row.wait_reason if deferred else None,
        "waiting": waiting(row.next_attempt_at, row.wait_reason) if deferred else None,
        "last_error": row.last_error,
        "request": row.request_id,
        "created_at": _aware(row.created_at),
        "sent_copy": row.sent_copy,
        "sent_copy_error": row.sent_copy_error,
        "recipients": recipients,
    }


def waiting(next_attempt_at: datetime, wait_reason: str | None) -> str:
    """The line a person reads for an email held back by its provider's limit."""
    at = next_attempt_at if next_attempt_at.tzinfo else next_attempt_at.replace(tzinfo=UTC)
    return f"waiting for the provider's limit: next at {at.astimezone():%H:%M} ({wait_reason})"
