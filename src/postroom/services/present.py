"""Rows as plain dicts for the CLI's --json and the API. Secrets never appear: only whether one
is set. This is the one place that decides what leaves the process."""

from __future__ import annotations

from typing import Any

from postroom.storage.models import (
    AuditEntry,
    Connection,
    Mailbox,
    OAuthApp,
    OutboxItem,
    Server,
    User,
    Workflow,
)


def server(row: Server) -> dict[str, Any]:
    return {
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
    }


def workflow(row: Workflow) -> dict[str, Any]:
    return {
        "name": row.name,
        "steps": [s.name for s in row.steps],
        "active": row.active,
        "status": row.status,
    }


def oauth_app(row: OAuthApp) -> dict[str, Any]:
    return {
        "name": row.name,
        "provider": row.provider,
        "tenant": row.tenant,
        "client_id": row.client_id,
        "client_secret_set": row.client_secret is not None,
        "authorize_url": row.authorize_url,
        "token_url": row.token_url,
        "scopes": row.scopes,
    }


def mailbox(row: Mailbox) -> dict[str, Any]:
    return {
        "address": row.address,
        "display_name": row.display_name,
        "kind": "system" if row.owner_id is None else "personal",
        "owner": row.owner.email if row.owner else None,
        "default": row.is_default,
        "incoming": row.incoming_server.name if row.incoming_server else None,
        "outgoing": row.outgoing_server.name if row.outgoing_server else None,
        "receive": row.receive_enabled,
        "send": row.send_enabled,
        "username": row.username,
        "login_format": row.login_format,
        "password_set": row.password is not None,
        "oauth_app": row.oauth_app.name if row.oauth_app else None,
        "oauth_account": row.oauth_account,
        "oauth_tokens_set": row.oauth_tokens is not None,
        "oauth_expires_at": row.oauth_expires_at.isoformat() if row.oauth_expires_at else None,
        "workflow": row.workflow.name if row.workflow else None,
        "workflow_status": row.workflow.status if row.workflow else None,
        "after_import": row.after_import,
        "folder": row.folder,
        "poll_interval": row.poll_interval,
        "state": row.state,
        "last_error": row.last_error,
        "last_checked_at": row.last_checked_at.isoformat() if row.last_checked_at else None,
        "last_success_at": row.last_success_at.isoformat() if row.last_success_at else None,
    }


def user(row: User) -> dict[str, Any]:
    return {"email": row.email, "display_name": row.display_name, "admin": row.is_admin}


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
    return {
        "name": row.name,
        "mailbox": row.mailbox.address,
        "security": row.security,
        "connect_timeout": row.connect_timeout,
        "send_timeout": row.send_timeout,
        "auth": row.auth,
        "action_base_url": row.action_base_url,
    }


def outbox_item(row: OutboxItem) -> dict[str, Any]:
    return {
        "id": row.id,
        "state": row.state,
        "message_id": row.message_id,
        "sender": row.sender,
        "subject": row.subject,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.state == "queued" else None,
        "last_error": row.last_error,
        "request": row.request_id,
        "recipients": [
            {"address": r.address, "status": r.status, "code": r.code, "detail": r.detail}
            for r in row.recipients
        ],
    }
