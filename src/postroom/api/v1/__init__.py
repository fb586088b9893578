"""The REST API, version 1: each module a few lines over the services."""

from __future__ import annotations

from fastapi import APIRouter

from postroom.api.v1 import (
    activities,
    audit,
    connections,
    contacts,
    discovery,
    fetch_runs,
    held,
    mailboxes,
    oauth_apps,
    outbox,
    requests,
    retention,
    servers,
    tokens,
    users,
    webhooks,
    workflows,
)

router = APIRouter(prefix="/api/v1")
for module in (
    servers,
    oauth_apps,
    mailboxes,
    fetch_runs,
    connections,
    workflows,
    users,
    tokens,
    requests,
    held,
    retention,
    outbox,
    audit,
    discovery,
    webhooks,
    contacts,
    activities,
):
    router.include_router(module.router)
