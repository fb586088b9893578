"""Webhook subscriptions and their deliveries (administrators). The signing secret appears in
the answer to add and rotate-secret only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import Id, Limit, Offset, page
from postroom.api.schemas import WebhookChange, WebhookIn
from postroom.services import listings, present, webhook_delivery, webhooks
from postroom.storage.db import default_engine, flushed_connection, unit_of_work

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.get("")
def list_webhooks(db: Db, caller: CallerDep, limit: Limit = 50, offset: Offset = 0) -> Any:
    rows = listings.webhooks(flushed_connection(db), caller.actor)
    return page(rows, limit, offset, fetched_extra=False)


@router.post("", status_code=201)
def add_webhook(body: WebhookIn, db: Db, caller: CallerDep) -> Any:
    made = webhooks.add(db, caller.actor, body.name, body.url, body.events, active=body.active)
    return present.webhook(made.subscription, made.secret)


@router.get("/deliveries")
def list_deliveries(
    db: Db,
    caller: CallerDep,
    state: Annotated[str | None, Query(max_length=20)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    rows = webhooks.deliveries(db, caller.actor, state, limit + 1, offset=offset)
    return page([present.webhook_delivery(d) for d in rows], limit, offset, fetched_extra=True)


@router.get("/deliveries/{delivery_id}")
def show_delivery(delivery_id: Id, db: Db, caller: CallerDep) -> Any:
    return present.webhook_delivery(webhooks.delivery(db, caller.actor, delivery_id), payload=True)


@router.post("/deliveries/{delivery_id}/redeliver")
def redeliver(delivery_id: Id, db: Db, caller: CallerDep) -> Any:
    return present.webhook_delivery(webhooks.redeliver(db, caller.actor, delivery_id))


@router.get("/{name}")
def show_webhook(name: str, db: Db, caller: CallerDep) -> Any:
    return present.webhook(webhooks.get(db, caller.actor, name))


@router.patch("/{name}")
def change_webhook(name: str, body: WebhookChange, db: Db, caller: CallerDep) -> Any:
    return present.webhook(webhooks.set_active(db, caller.actor, name, body.active))


@router.delete("/{name}", status_code=204)
def remove_webhook(name: str, db: Db, caller: CallerDep) -> Response:
    webhooks.remove(db, caller.actor, name)
    return Response(status_code=204)


@router.post("/{name}/rotate-secret")
def rotate_secret(name: str, db: Db, caller: CallerDep) -> Any:
    made = webhooks.rotate_secret(db, caller.actor, name)
    return present.webhook(made.subscription, made.secret)


@router.post("/{name}/test")
def test_webhook(name: str, db: Db, caller: CallerDep) -> Any:
    """Send a webhook.test event now and answer with its delivery's outcome."""
    with unit_of_work() as own:  # committed first: the worker reads it in its own transaction
        uid = webhooks.queue_test(own, caller.actor, name)
    webhook_delivery.flush_once(default_engine(), uids=[uid])
    return present.webhook_delivery(webhooks.delivery(db, caller.actor, uid))
