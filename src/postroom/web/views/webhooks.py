"""Webhooks in the console (administrators): list, add (the secret shown once), test, remove."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep, Db
from postroom.services import listings, present, webhook_delivery, webhooks
from postroom.services.events import EVENTS
from postroom.storage.db import default_engine, flushed_connection
from postroom.web.render import attempt, redirect, render

router = APIRouter(prefix="/settings/webhooks", include_in_schema=False)
Text = Annotated[str, Form()]
RECENT = 20


def _page(request: Request, db: Session, caller: Caller, **extra: Any) -> Response:
    rows = listings.webhooks(flushed_connection(db), caller.actor)
    recent = [
        present.webhook_delivery(d) for d in webhooks.deliveries(db, caller.actor, None, RECENT)
    ]
    return render(
        request,
        "webhooks.html",
        caller,
        webhooks=rows,
        deliveries=recent,
        kinds=EVENTS,
        **extra,
    )


@router.get("", response_class=HTMLResponse)
def webhook_list(request: Request, db: Db, caller: CallerDep) -> Response:
    return _page(request, db, caller)


@router.post("", response_class=HTMLResponse)
def add_webhook(
    request: Request, db: Db, caller: CallerDep, name: Text = "", url: Text = "", events: Text = ""
) -> Response:
    kinds = events.split(",")
    done = attempt(
        lambda tx: webhooks.add(tx, caller.actor, name, url, kinds).secret,
        ["name", "url", "events"],
    )
    if not done.ok:
        values = {"name": name, "url": url, "events": events}
        return _page(request, db, caller, status=422, errors=done.errors, values=values)
    return _page(request, db, caller, secret=done.value, secret_for=name.strip())


@router.post("/{name}/test", response_class=HTMLResponse)
def test_webhook(request: Request, name: str, db: Db, caller: CallerDep) -> Response:
    done = attempt(lambda tx: webhooks.queue_test(tx, caller.actor, name))
    if not done.ok or done.value is None:
        return _page(request, db, caller, status=422, errors=done.errors)
    result = webhook_delivery.flush_once(default_engine(), uids=[done.value])
    notice = "webhook-delivered" if result.delivered else "webhook-not-delivered"
    return redirect("/settings/webhooks", notice)


@router.post("/{name}/remove", response_class=HTMLResponse)
def remove_webhook(request: Request, name: str, db: Db, caller: CallerDep) -> Response:
    done = attempt(lambda tx: webhooks.remove(tx, caller.actor, name))
    if not done.ok:
        return _page(request, db, caller, status=422, errors=done.errors)
    return redirect("/settings/webhooks", "webhook-removed")
