"""A user's page for administrators (disable, enable, role, password, workflows, their email
mailboxes, remove) and the page where anyone changes their own password, which a reset makes
them visit first. An administrator adds a user's mailbox through the same service as the user
would, as themselves (the audit log names the administrator)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep, Db
from postroom.services import mailbox_edits, mailboxes, present, user_admin, users, workflows
from postroom.web.render import attempt, redirect, render
from postroom.web.views.found import server_choices
from postroom.web.views.mailbox_forms import FIELDS, MailboxForm, switched
from postroom.web.views.signin import safe_next

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]
Many = Annotated[list[str] | None, Form()]


def _page(request: Request, db: Session, caller: Caller, email: str, **extra: Any) -> Response:
    person = user_admin.detail(db, caller.actor, email)
    others = [u.email for u in users.listing(db, caller.actor) if u.email != person["email"]]
    theirs = present.mailboxes(
        [
            m
            for m in mailboxes.listing(db, caller.actor)
            if m.owner is not None and m.owner.email == person["email"]
        ]
    )
    return render(
        request,
        "user.html",
        caller,
        u=person,
        workflows=[w.name for w in workflows.listing(db)],
        others=others,
        choices=user_admin.MAILBOX_CHOICES,
        mailboxes=theirs,
        kind="personal",
        **server_choices(db),
        **extra,
    )


@router.get("/users/{email}", response_class=HTMLResponse)
def user_page(request: Request, email: str, db: Db, caller: CallerDep) -> Response:
    return _page(request, db, caller, email)


def _after(
    request: Request, db: Session, caller: Caller, email: str, done: Any, notice: str
) -> Response:
    if not done.ok:
        return _page(request, db, caller, email, status=422, errors=done.errors)
    return redirect(f"/users/{quote(email, safe='@')}", notice)


@router.post("/users/{email}/disable", response_class=HTMLResponse)
def disable(request: Request, email: str, db: Db, caller: CallerDep) -> Response:
    done = attempt(lambda tx: user_admin.disable(tx, caller.actor, email))
    return _after(request, db, caller, email, done, "user-disabled")


@router.post("/users/{email}/enable", response_class=HTMLResponse)
def enable(request: Request, email: str, db: Db, caller: CallerDep) -> Response:
    done = attempt(lambda tx: user_admin.enable(tx, caller.actor, email))
    return _after(request, db, caller, email, done, "user-enabled")


@router.post("/users/{email}/role", response_class=HTMLResponse)
def role(request: Request, email: str, db: Db, caller: CallerDep, role: Text = "") -> Response:
    done = attempt(lambda tx: user_admin.set_role(tx, caller.actor, email, admin=role == "admin"))
    return _after(request, db, caller, email, done, "user-role-changed")


@router.post("/users/{email}/password", response_class=HTMLResponse)
def set_password(
    request: Request,
    email: str,
    db: Db,
    caller: CallerDep,
    password: Text = "",
    must_change: Text = "",
) -> Response:
    done = attempt(
        lambda tx: user_admin.set_password(
            tx, caller.actor, email, password, must_change=must_change == "on"
        ),
        ["password"],
    )
    return _after(request, db, caller, email, done, "user-password-set")


@router.post("/users/{email}/password-reset", response_class=HTMLResponse)
def reset_password(request: Request, email: str, db: Db, caller: CallerDep) -> Response:
    """The one-time password is shown on this answer only (committed first), never in a URL."""
    done = attempt(lambda tx: user_admin.issue_reset(tx, caller.actor, email).password)
    if not done.ok:
        return _page(request, db, caller, email, status=422, errors=done.errors)
    return _page(request, db, caller, email, one_time=done.value)


@router.post("/users/{email}/workflows", response_class=HTMLResponse)
def set_workflows(
    request: Request, email: str, db: Db, caller: CallerDep, workflow: Many = None
) -> Response:
    chosen = workflow or []
    done = attempt(lambda tx: user_admin.set_workflows(tx, caller.actor, email, chosen))
    return _after(request, db, caller, email, done, "user-workflows-saved")


@router.post("/users/{email}/mailboxes", response_class=HTMLResponse)
def add_mailbox(
    request: Request, email: str, db: Db, caller: CallerDep, spec: MailboxForm
) -> Response:
    """Users > a user > Email: their own account, entered for them (HelpSTAR's way)."""
    spec = replace(spec, owner=email)
    done = attempt(lambda tx: mailboxes.add(tx, caller.actor, spec), FIELDS)
    if not done.ok:
        values = {k: getattr(spec, k) or "" for k in FIELDS if k != "password"}
        errors = {"add-mailbox": next(iter(done.errors.values()))}
        return _page(request, db, caller, email, status=422, errors=errors, values=values)
    return redirect(f"/users/{quote(email, safe='@')}", "mailbox-added")


@router.post("/users/{email}/mailboxes/{address}/switch", response_class=HTMLResponse)
def switch_mailbox(
    request: Request,
    email: str,
    address: str,
    db: Db,
    caller: CallerDep,
    receive: Text = "",
    send: Text = "",
) -> Response:
    done = attempt(
        lambda tx: mailbox_edits.switch(
            tx, caller.actor, address, email, receive=switched(receive), send=switched(send)
        )
    )
    return _after(request, db, caller, email, done, "mailbox-switched")


@router.post("/users/{email}/remove", response_class=HTMLResponse)
def remove(
    request: Request,
    email: str,
    db: Db,
    caller: CallerDep,
    reason: Text = "",
    mailboxes: Text = user_admin.REMOVE,
    hand_to: Text = "",
) -> Response:
    done = attempt(
        lambda tx: user_admin.remove(
            tx, caller.actor, email, reason, mailboxes_to=mailboxes, hand_to=hand_to or None
        ),
        ["reason", "hand_to", "mailboxes"],
    )
    if not done.ok:
        values = {"reason": reason, "mailboxes": mailboxes, "hand_to": hand_to}
        return _page(request, db, caller, email, status=422, errors=done.errors, values=values)
    return redirect("/users", "user-removed")


@router.get("/password", response_class=HTMLResponse)
def password_page(request: Request, caller: CallerDep, next: str = "/") -> Response:
    return render(request, "password.html", caller, next=safe_next(next))


@router.post("/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    caller: CallerDep,
    current: Text = "",
    password: Text = "",
    repeat: Text = "",
    next: Text = "/",
) -> Response:
    if password != repeat:
        errors = {"repeat": "The two new passwords differ: type the same one twice."}
        return render(request, "password.html", caller, status=422, errors=errors, next=next)
    done = attempt(
        lambda tx: user_admin.change_own_password(tx, caller.actor, current, password),
        ["current", "password"],
    )
    if not done.ok:
        return render(
            request, "password.html", caller, status=422, errors=done.errors, next=safe_next(next)
        )
    return redirect(safe_next(next), "password-changed")
