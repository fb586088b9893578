"""Rows as plain dicts for the CLI's --json and the API. Secrets never appear: only whether one
is set. This is the one place that decides what leaves the process; servers, workflows,
mailboxes, users, OAuth apps, connections, webhooks, tokens, requests, held messages and outbox
items are shaped by services/listings.py, which reads them without the ORM."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection as DbConnection
from sqlalchemy.orm import object_session

from postroom.services import listings
from postroom.storage.db import flushed_connection
from postroom.storage.models import (
    ApiToken,
    AuditEntry,
    Base,
    Connection,
    Mailbox,
    Message,
    MetricsToken,
    OAuthApp,
    OutboxItem,
    Request,
    Server,
    User,
    WebhookDelivery,
    WebhookSubscription,
    Workflow,
)

if TYPE_CHECKING:
    from postroom.connectors.test_connection import Report
    from postroom.discovery.model import Candidate, Discovery
    from postroom.services.providers import ProviderView
    from postroom.services.retention import Purge, Retention


ByIds = Callable[[DbConnection, list[int]], dict[int, dict[str, Any]]]


def _read(rows: Sequence[Base], by_ids: ByIds) -> list[dict[str, Any]]:
    """ORM rows, in the order given, as services/listings.py shows them: flushed, then read
    in their own transaction with one query however many there are."""
    if not rows:
        return []
    session = object_session(rows[0])
    if session is None:
        raise RuntimeError(f"{type(rows[0]).__name__} {rows[0].id} is in no session to read from")
    found = by_ids(flushed_connection(session), [r.id for r in rows])
    return [found[r.id] for r in rows]


def server(row: Server) -> dict[str, Any]:
    return servers([row])[0]


def servers(rows: Sequence[Server]) -> list[dict[str, Any]]:
    return _read(rows, listings.servers_by_id)


def workflow(row: Workflow) -> dict[str, Any]:
    return workflows([row])[0]


def workflows(rows: Sequence[Workflow]) -> list[dict[str, Any]]:
    return _read(rows, listings.workflows_by_id)


def oauth_app(row: OAuthApp) -> dict[str, Any]:
    return _read([row], listings.oauth_apps_by_id)[0]


def mailbox(row: Mailbox) -> dict[str, Any]:
    return mailboxes([row])[0]


def mailboxes(rows: Sequence[Mailbox]) -> list[dict[str, Any]]:
    return _read(rows, listings.mailboxes_by_id)


def push_line(push: dict[str, Any] | None) -> str | None:
    """One line for a person: pushed until when, or polled and why."""
    if push is None:
        return None
    if push["state"] == "active":
        return f"on (renewed before {push['expires_at']})"
    return f"off, polled: {push['reason']}"


def user(row: User) -> dict[str, Any]:
    return _read([row], listings.users_by_id)[0]


def audit_entry(row: AuditEntry) -> dict[str, Any]:
    return {
        "at": row.at.isoformat(),
        "actor": row.actor,
        "action": row.action,
        "target": row.target,
        "reason": row.reason,
        "details": row.details,
    }


def connection(row: Connection) -> dict[str, Any]:
    return _read([row], listings.connections_by_id)[0]


def outbox_item(row: OutboxItem) -> dict[str, Any]:
    return _read([row], listings.outbox_items_by_id)[0]


def request(row: Request) -> dict[str, Any]:
    return _read([row], listings.requests_by_id)[0]


def held_message(row: Message) -> dict[str, Any]:
    """A message as the held list shows it, whatever its status now."""
    return _read([row], listings.held_by_id)[0]


def candidate(item: Candidate) -> dict[str, Any]:
    return {
        "source": item.source,
        "protocol": item.protocol.value,
        "host": item.host,
        "port": item.port,
        "security": item.security.value,
        "login_format": item.login_format.value,
        "oauth_provider": item.oauth_provider.value if item.oauth_provider else None,
        "provider": item.provider,
        "guessed": item.guessed,
        "also_found_by": list(item.also_found_by),
        "note": item.note,
    }


def discovery(result: Discovery) -> dict[str, Any]:
    return {
        "address": result.address,
        "domain": result.domain,
        "candidates": [candidate(c) for c in result.candidates],
        "outcomes": [
            {
                "source": o.source,
                "status": o.status.value,
                "detail": o.detail,
                "seconds": round(o.seconds, 3),
            }
            for o in result.outcomes
        ],
    }


def provider(view: ProviderView) -> dict[str, Any]:
    return {
        "name": view.name,
        "display_name": view.display_name,
        "kind": view.kind,
        "oauth_provider": view.oauth_provider.value if view.oauth_provider else None,
        "domains": list(view.domains),
        "added_domains": list(view.added_domains),
        "servers": list(view.server_names),
        "settings": [
            {
                "protocol": s.protocol.value,
                "host": s.host,
                "port": s.port,
                "security": s.security.value,
                "login_format": s.login_format.value,
            }
            for s in view.settings
        ],
        "note": view.note,
    }


def reports(found: list[tuple[str, Report]]) -> dict[str, Any]:
    """Connection-test reports by role (incoming, outgoing, test email)."""
    return {
        "ok": all(r.ok for _, r in found),
        "reports": [{"role": role, **r.as_dict()} for role, r in found],
    }


def api_tokens(rows: Sequence[ApiToken]) -> list[dict[str, Any]]:
    return [listings.token(row) for row in rows]


def metrics_token(row: MetricsToken) -> dict[str, Any]:
    return metrics_tokens([row])[0]


def metrics_tokens(rows: Sequence[MetricsToken]) -> list[dict[str, Any]]:
    return _read(rows, listings.metrics_tokens_by_id)


def retention(view: Retention) -> dict[str, Any]:
    return {
        "reason": view.reason,
        "kind": view.kind,
        "days": view.days,
        "default_days": view.default_days,
        "updated_by": view.updated_by,
        "updated_at": view.updated_at.isoformat() if view.updated_at else None,
    }


def purge(result: Purge) -> dict[str, Any]:
    return {"dry_run": result.dry_run, "purged": result.total, "by_reason": result.counts}


def webhook(row: WebhookSubscription, secret: str | None = None) -> dict[str, Any]:
    """`secret` only when just made (add, rotate-secret): shown once, never read back."""
    data = _read([row], listings.webhooks_by_id)[0]
    return data if secret is None else data | {"secret": secret}


def webhook_delivery(row: WebhookDelivery, *, payload: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.id,
        "uid": row.uid,
        "event_id": row.event_id,
        "webhook": row.subscription.name,
        "event": row.kind,
        "state": row.state,
        "attempts": row.attempts,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
        "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }
    if payload:
        data["payload"] = row.payload
    return data
