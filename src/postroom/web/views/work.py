"""Mailbox health, workflows, requests, the email inbox of held mail, users and the audit log."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep, Db
from postroom.api.downloads import download
from postroom.api.pages import page
from postroom.domain.held import HELD_REASONS
from postroom.services import (
    audit,
    held,
    listings,
    mailbox_activity,
    mailboxes,
    present,
    replies,
    request_files,
    requests,
    retention,
    users,
    workflows,
)
from postroom.storage.db import flushed_connection
from postroom.storage.models import aware
from postroom.web import charts
from postroom.web.render import attempt, redirect, render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]
Filter = Annotated[str, Query(max_length=200)]
PAGE = 50


@router.get("/", response_class=HTMLResponse)
def health(request: Request, db: Db, caller: CallerDep) -> Response:
    """What needs attention first, then each mailbox: its state, last success, next check and
    its 30 days as a chart (grouped by day in the database: services/mailbox_activity.py)."""
    days = mailbox_activity.daily(db, caller.actor)
    listed = mailboxes.listing(db, caller.actor)
    rows = [
        shown
        | {
            "next_check_at": aware(m.next_poll_at).isoformat() if m.next_poll_at else None,
            "chart": charts.daily_bars(days[m.id]) if m.id in days else None,
        }
        for m, shown in zip(listed, present.mailboxes(listed), strict=True)
    ]
    attention = mailbox_activity.attention(db, caller.actor)
    return render(request, "health.html", caller, mailboxes=rows, attention=attention)


def _workflows_page(request: Request, db: Session, caller: Caller, **extra: Any) -> Response:
    listed = workflows.listing(db)
    rows = [
        shown | {"members": [u.email for u in workflows.members(db, w.name)]}
        for w, shown in zip(listed, present.workflows(listed), strict=True)
    ]
    people = [u.email for u in users.listing(db, caller.actor)] if caller.actor.is_admin else []
    return render(request, "workflows.html", caller, workflows=rows, people=people, **extra)


@router.get("/workflows", response_class=HTMLResponse)
def workflow_list(request: Request, db: Db, caller: CallerDep) -> Response:
    return _workflows_page(request, db, caller)


@router.post("/workflows", response_class=HTMLResponse)
def add_workflow(
    request: Request, db: Db, caller: CallerDep, name: Text = "", steps: Text = ""
) -> Response:
    done = attempt(lambda tx: workflows.add(tx, caller.actor, name, steps), ["name", "steps"])
    if not done.ok:
        values = {"name": name, "steps": steps}
        return _workflows_page(request, db, caller, status=422, errors=done.errors, values=values)
    return redirect("/workflows", "workflow-added")


@router.post("/workflows/{workflow}/active", response_class=HTMLResponse)
def switch_workflow(workflow: str, db: Db, caller: CallerDep, active: Text = "") -> Response:
    """A refusal is an error page, never the notice of a change that did not happen."""
    workflows.set_active(db, caller.actor, workflow, active == "on")
    return redirect("/workflows", "workflow-changed")


@router.post("/workflows/{workflow}/remove", response_class=HTMLResponse)
def remove_workflow(
    request: Request, workflow: str, db: Db, caller: CallerDep, reason: Text = ""
) -> Response:
    """Its requests and mailboxes keep pointing at it; the reason goes to the audit log. A
    person who may not remove it gets an error page, never the form's refusal."""
    caller.actor.require_admin("remove workflows")
    done = attempt(lambda tx: workflows.remove(tx, caller.actor, workflow, reason))
    if not done.ok:
        errors = {"remove:" + workflow: next(iter(done.errors.values()))}
        return _workflows_page(request, db, caller, status=422, errors=errors)
    return redirect("/workflows", "workflow-removed")


@router.post("/workflows/{workflow}/steps", response_class=HTMLResponse)
def change_steps(
    request: Request, workflow: str, db: Db, caller: CallerDep, steps: Text = ""
) -> Response:
    done = attempt(lambda tx: workflows.set_steps(tx, caller.actor, workflow, steps))
    if not done.ok:
        errors = {"steps:" + workflow: next(iter(done.errors.values()))}
        return _workflows_page(request, db, caller, status=422, errors=errors)
    return redirect("/workflows", "workflow-steps-saved")


@router.post("/workflows/{workflow}/members", response_class=HTMLResponse)
def give_workflow(
    request: Request, workflow: str, db: Db, caller: CallerDep, email: Text = ""
) -> Response:
    done = attempt(
        lambda tx: workflows.give(tx, caller.actor, workflow, users.get(tx, email)), ["email"]
    )
    if not done.ok:
        return _workflows_page(request, db, caller, status=422, errors=done.errors)
    return redirect("/workflows", "workflow-changed")


@router.get("/requests", response_class=HTMLResponse)
def request_list(
    request: Request,
    db: Db,
    caller: CallerDep,
    workflow: Filter = "",
    step: Filter = "",
    q: Filter = "",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    rows = requests.listing(
        db,
        workflow or None,
        PAGE + 1,
        actor=caller.actor,
        step=step or None,
        search=q,
        offset=offset,
    )
    chosen = next((w for w in workflows.listing(db) if w.name == workflow), None)
    query = urlencode({"workflow": workflow, "step": step, "q": q})
    return render(
        request,
        "requests.html",
        caller,
        page=page(rows, PAGE, offset, fetched_extra=True),
        base=f"/requests?{query}&",
        workflows=[w.name for w in workflows.listing(db)],
        steps=[s.name for s in chosen.steps] if chosen else [],
        values={"workflow": workflow, "step": step, "q": q},
    )


def _request_page(
    request: Request, db: Session, caller: Caller, request_id: int, **extra: Any
) -> Response:
    found = requests.detail(db, request_id, caller.actor, bodies=True)
    senders = [
        m.address
        for m in mailboxes.listing(db, caller.actor)
        if m.owner_id == caller.user.id and m.outgoing_server is not None
    ]
    history = requests.history(db, request_id, caller.actor)
    return render(
        request,
        "request.html",
        caller,
        r=found,
        senders=senders,
        reply_enabled=True,
        history=history,
        **extra,
    )


@router.get("/requests/{request_id}", response_class=HTMLResponse)
def request_detail(request: Request, request_id: int, db: Db, caller: CallerDep) -> Response:
    return _request_page(request, db, caller, request_id)


@router.get("/requests/{request_id}/messages/{message_id}/raw")
def request_message_raw(request_id: int, message_id: int, db: Db, caller: CallerDep) -> Response:
    """The email as stored, saved as a .eml file (never shown inline: someone else's content)."""
    return download(request_files.raw(db, caller.actor, request_id, message_id))


@router.get("/requests/{request_id}/messages/{message_id}/attachments/{index}")
def request_attachment(
    request_id: int, message_id: int, index: Annotated[int, Path(ge=0)], db: Db, caller: CallerDep
) -> Response:
    return download(request_files.attachment(db, caller.actor, request_id, message_id, index))


@router.get("/requests/{request_id}/messages/{message_id}/delivery", response_class=HTMLResponse)
def message_delivery(
    request: Request, request_id: int, message_id: int, db: Db, caller: CallerDep
) -> Response:
    """The status of one email in the thread; the page asks again until it is settled."""
    found = requests.delivery_of(db, request_id, message_id, caller.actor)
    return render(request, "delivery.html", caller, r={"id": request_id}, m=found)


@router.post("/requests/{request_id}/move", response_class=HTMLResponse)
def move_request(
    request: Request, request_id: int, db: Db, caller: CallerDep, step: Text = ""
) -> Response:
    done = attempt(lambda tx: requests.move(tx, caller.actor, request_id, step), ["step"])
    if not done.ok:
        return _request_page(request, db, caller, request_id, status=422, errors=done.errors)
    return redirect(f"/requests/{request_id}", "request-moved")


@router.post("/requests/{request_id}/reply", response_class=HTMLResponse)
def reply(
    request: Request,
    request_id: int,
    db: Db,
    caller: CallerDep,
    body: Text = "",
    mailbox: Text = "",
) -> Response:
    done = attempt(
        lambda tx: replies.reply(tx, caller.actor, request_id, body=body, mailbox=mailbox or None),
        ["body", "mailbox"],
    )
    if not done.ok:
        values = {"body": body, "mailbox": mailbox}
        return _request_page(
            request, db, caller, request_id, status=422, errors=done.errors, values=values
        )
    return redirect(f"/requests/{request_id}", "reply-queued")


@router.get("/inbox", response_class=HTMLResponse)
def inbox(
    request: Request,
    db: Db,
    caller: CallerDep,
    reason: Filter = "",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    return _inbox_page(request, db, caller, reason, offset)


def _inbox_page(
    request: Request, db: Session, caller: Caller, reason: str = "", offset: int = 0, **extra: Any
) -> Response:
    rows = held.listing(db, reason or None, PAGE + 1, actor=caller.actor, offset=offset)
    context: dict[str, Any] = {"values": {"reason": reason}} | extra
    return render(
        request,
        "inbox.html",
        caller,
        page=page(rows, PAGE, offset, fetched_extra=True),
        base=f"/inbox?{urlencode({'reason': reason})}&",
        reasons=HELD_REASONS,
        retention=[present.retention(v) for v in retention.listing(db)],
        **context,
    )


@router.post("/inbox/retention", response_class=HTMLResponse)
def set_retention(
    request: Request, db: Db, caller: CallerDep, held_reason: Text = "", days: Text = ""
) -> Response:
    """Empty days: kept until a person acts on it."""
    chosen = int(days) if days.strip().isdigit() else (None if not days.strip() else 0)
    done = attempt(
        lambda tx: retention.set_days(tx, caller.actor, held_reason, chosen),
        ["held_reason", "days"],
    )
    if not done.ok:
        values = {"held_reason": held_reason, "days": days}
        return _inbox_page(request, db, caller, status=422, errors=done.errors, values=values)
    return redirect("/inbox", "retention-saved")


def _message_page(
    request: Request, db: Session, caller: Caller, message_id: int, q: str = "", **extra: Any
) -> Response:
    message = held.show(db, caller.actor, message_id)
    found = requests.listing(db, None, 20, actor=caller.actor, search=q) if q else []
    return render(
        request,
        "held_message.html",
        caller,
        m=message,
        q=q,
        found=found,
        workflows=[w.name for w in workflows.listing(db) if w.active],
        **extra,
    )


@router.get("/inbox/{message_id}", response_class=HTMLResponse)
def held_message(
    request: Request, message_id: int, db: Db, caller: CallerDep, q: Filter = ""
) -> Response:
    return _message_page(request, db, caller, message_id, q)


@router.get("/inbox/{message_id}/raw")
def held_message_raw(message_id: int, db: Db, caller: CallerDep) -> Response:
    """The whole email as a download (never shown inline: it is someone else's content)."""
    return Response(
        held.raw(db, caller.actor, message_id),
        media_type="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="message-{message_id}.eml"'},
    )


@router.get("/inbox/{message_id}/search", response_class=HTMLResponse)
def search_requests(
    request: Request, message_id: int, db: Db, caller: CallerDep, q: Filter = ""
) -> Response:
    """The search results alone, for htmx to swap in as the person types."""
    found = requests.listing(db, None, 20, actor=caller.actor, search=q) if q else []
    return render(request, "request_choices.html", caller, m={"id": message_id}, found=found, q=q)


@router.post("/inbox/{message_id}/open", response_class=HTMLResponse)
def open_request(
    request: Request, message_id: int, db: Db, caller: CallerDep, workflow: Text = ""
) -> Response:
    done = attempt(
        lambda tx: held.open_request(tx, caller.actor, message_id, workflow).id, ["workflow"]
    )
    if not done.ok:
        return _message_page(request, db, caller, message_id, status=422, errors=done.errors)
    return redirect(f"/requests/{done.value}", "message-routed")


@router.post("/inbox/{message_id}/attach", response_class=HTMLResponse)
def attach(
    request: Request, message_id: int, db: Db, caller: CallerDep, request_id: Text = ""
) -> Response:
    target = int(request_id) if request_id.isdigit() else 0
    done = attempt(lambda tx: held.attach(tx, caller.actor, message_id, target).id, ["request_id"])
    if not done.ok:
        return _message_page(request, db, caller, message_id, status=422, errors=done.errors)
    return redirect(f"/requests/{done.value}", "message-routed")


@router.post("/inbox/{message_id}/reprocess", response_class=HTMLResponse)
def reprocess(request: Request, message_id: int, db: Db, caller: CallerDep) -> Response:
    done = attempt(lambda tx: held.reprocess(tx, caller.actor, message_id))
    if not done.ok:
        return _message_page(request, db, caller, message_id, status=422, errors=done.errors)
    return redirect("/inbox", "message-reprocessed")


@router.get("/audit", response_class=HTMLResponse)
def audit_log(
    request: Request, db: Db, caller: CallerDep, offset: Annotated[int, Query(ge=0)] = 0
) -> Response:
    rows = [
        present.audit_entry(e) for e in audit.entries(db, caller.actor, PAGE + 1, offset=offset)
    ]
    return render(
        request,
        "audit.html",
        caller,
        page=page(rows, PAGE, offset, fetched_extra=True),
        base="/audit?",
    )


def _users_page(request: Request, db: Session, caller: Caller, **extra: Any) -> Response:
    rows = listings.users(flushed_connection(db), caller.actor)
    return render(request, "users.html", caller, users=rows, **extra)


@router.get("/users", response_class=HTMLResponse)
def user_list(request: Request, db: Db, caller: CallerDep) -> Response:
    return _users_page(request, db, caller)


@router.post("/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    db: Db,
    caller: CallerDep,
    email: Text = "",
    password: Text = "",
    admin: Text = "",
) -> Response:
    done = attempt(
        lambda tx: users.add(tx, caller.actor, email, password, admin=admin == "on"),
        ["email", "password"],
    )
    if not done.ok:
        return _users_page(
            request,
            db,
            caller,
            status=422,
            errors=done.errors,
            values={"email": email, "admin": admin},
        )
    return redirect("/users", "user-added")
