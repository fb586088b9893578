"""Activities in the console: a mailbox's calendar or a request's follow-ups and meetings,
added from a request (its requester invited, a link back to it), edited, and each one's
history. Times are typed and shown in UTC; the next sync writes changes to the calendar."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep, Db
from postroom.api.pages import Id
from postroom.services import activities, mailboxes, requests, sync_records, sync_status
from postroom.services.activities import ActivityChange, ActivitySpec
from postroom.web.render import attempt, redirect, render
from postroom.web.views.mailbox_forms import Text

router = APIRouter(include_in_schema=False)
FIELDS = ["mailbox", "title", "start", "end", "attendees", "body"]


def _attendees(text: str) -> list[str]:
    return [a for a in re.split(r"[\s,;]+", text) if a]


def _minutes(iso: str | None) -> str:
    """2026-12-03T09:00:00+00:00 as a datetime-local input wants it: 2026-12-03T09:00."""
    return (iso or "")[:16]


def _list_page(
    request: Request,
    db: Session,
    caller: Caller,
    address: str | None = None,
    request_id: int | None = None,
    **extra: Any,
) -> Response:
    context: dict[str, Any] = {"address": None, "req": None, "choices": []}
    if address is not None:
        context["address"] = mailboxes.get_for(db, caller.actor, address).address
        context["choices"] = [context["address"]]
    if request_id is not None:
        found = requests.get(db, request_id, caller.actor)
        context["req"] = {
            "id": found.id,
            "subject": found.subject,
            "requester": found.requester,
        }
        context["choices"] = sync_status.calendar_mailboxes(db, caller.actor)
    rows = activities.listing(db, caller.actor, context["address"], request_id)
    values = extra.pop("values", None) or {
        "mailbox": (context["choices"] or [""])[0],
        "attendees": (context["req"] or {}).get("requester") or "",
        "title": f"Follow-up: {context['req']['subject']}" if context["req"] else "",
    }
    return render(
        request,
        "activities.html",
        caller,
        activities=[sync_records.view(a) for a in rows],
        values=values,
        **context,
        **extra,
    )


@router.get("/mailboxes/{address}/activities", response_class=HTMLResponse)
def mailbox_activities(request: Request, address: str, db: Db, caller: CallerDep) -> Response:
    return _list_page(request, db, caller, address=address)


@router.get("/requests/{request_id}/activities", response_class=HTMLResponse)
def request_activities(request: Request, request_id: Id, db: Db, caller: CallerDep) -> Response:
    return _list_page(request, db, caller, request_id=request_id)


@router.post("/activities", response_class=HTMLResponse)
def add_activity(
    request: Request,
    db: Db,
    caller: CallerDep,
    mailbox: Text = "",
    request_id: Text = "",
    title: Text = "",
    start: Text = "",
    end: Text = "",
    attendees: Text = "",
    body: Text = "",
) -> Response:
    linked = int(request_id) if request_id.isdigit() else None
    spec = ActivitySpec(title, start, end, linked, _attendees(attendees), body)
    done = attempt(lambda tx: activities.add(tx, caller.actor, mailbox, spec).id, FIELDS)
    if not done.ok:
        values = {"mailbox": mailbox, "title": title, "start": start, "end": end}
        values |= {"attendees": attendees, "body": body}
        where: dict[str, Any] = {"request_id": linked} if linked else {"address": mailbox}
        return _list_page(
            request, db, caller, status=422, errors=done.errors, values=values, **where
        )
    return redirect(f"/activities/{done.value}", "activity-added")


def _detail_page(
    request: Request, db: Session, caller: Caller, activity_id: int, **extra: Any
) -> Response:
    activity = activities.get(db, caller.actor, activity_id)
    data = sync_records.detail(db, activity)
    values = extra.pop("values", None) or {
        "title": data["title"],
        "start": _minutes(data["start"]),
        "end": _minutes(data["end"]),
        "attendees": ", ".join(data["attendees"]),
        "body": data["body"],
    }
    address = sync_status.address_of(db, activity.mailbox_id)
    return render(
        request, "activity.html", caller, activity=data, address=address, values=values, **extra
    )


@router.get("/activities/{activity_id}", response_class=HTMLResponse)
def activity_detail(request: Request, activity_id: Id, db: Db, caller: CallerDep) -> Response:
    return _detail_page(request, db, caller, activity_id)


@router.post("/activities/{activity_id}", response_class=HTMLResponse)
def save_activity(
    request: Request,
    activity_id: Id,
    db: Db,
    caller: CallerDep,
    title: Text = "",
    start: Text = "",
    end: Text = "",
    attendees: Text = "",
    body: Text = "",
) -> Response:
    change = ActivityChange(title, start, end, _attendees(attendees), body)
    done = attempt(lambda tx: activities.edit(tx, caller.actor, activity_id, change).id, FIELDS)
    if not done.ok:
        values = {"title": title, "start": start, "end": end, "attendees": attendees}
        return _detail_page(
            request,
            db,
            caller,
            activity_id,
            status=422,
            errors=done.errors,
            values=values | {"body": body},
        )
    return redirect(f"/activities/{activity_id}", "activity-saved")


@router.post("/activities/{activity_id}/remove", response_class=HTMLResponse)
def remove_activity(request: Request, activity_id: Id, db: Db, caller: CallerDep) -> Response:
    mailbox_id = activities.get(db, caller.actor, activity_id).mailbox_id
    done = attempt(lambda tx: activities.remove(tx, caller.actor, activity_id))
    if not done.ok:
        return _detail_page(request, db, caller, activity_id, status=409, errors=done.errors)
    return redirect(
        f"/mailboxes/{sync_status.address_of(db, mailbox_id)}/activities", "activity-removed"
    )
