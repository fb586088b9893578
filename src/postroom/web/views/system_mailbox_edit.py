"""Editing a system mailbox in the console: workflow, servers, the receive and send switches,
after-import action, folders, poll interval and credentials, through the same service as the
API's PATCH and `postroom mailbox edit`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep, Db
from postroom.domain.settings import MailboxAccess
from postroom.errors import InvalidInput
from postroom.services import mailbox_edits, mailboxes, oauth_apps, present, workflows
from postroom.services.mailbox_edits import MailboxChange
from postroom.web.render import attempt, redirect, render
from postroom.web.views.found import server_choices
from postroom.web.views.mailbox_forms import Text

router = APIRouter(prefix="/settings/mailboxes", include_in_schema=False)

FIELDS = [
    "display_name",
    "workflow",
    "incoming",
    "outgoing",
    "receive",
    "send",
    "after_import",
    "move_to",
    "folder",
    "sent_folder",
    "poll_interval",
    "username",
    "password",
    "oauth_app",
    "access",
    "send_mode",
]


def _form(
    display_name: Text = "",
    workflow: Text = "",
    incoming: Text = "",
    outgoing: Text = "",
    receive: Text = "",
    send: Text = "",
    after_import: Text = "",
    move_to: Text = "",
    folder: Text = "INBOX",
    sent_folder: Text = "",
    poll_interval: Text = "60",
    username: Text = "",
    password: Text = "",
    oauth_app: Text = "",
    access: Text = "own",
    send_mode: Text = "",
) -> dict[str, str]:
    return dict(locals())


Form = Annotated[dict[str, str], Depends(_form)]


def _change(form: dict[str, str]) -> MailboxChange:
    """The form shows every field, so every field is given; a blank password keeps the old."""
    try:
        poll = int(form["poll_interval"])
    except ValueError:
        raise InvalidInput(
            f"The poll interval {form['poll_interval']!r} is not a whole number of seconds.",
            field="poll_interval",
        ) from None
    after = form["after_import"]
    if after == "move":
        after = f"move:{form['move_to'].strip()}"
    return MailboxChange(
        display_name=form["display_name"],
        workflow=form["workflow"],
        incoming=form["incoming"],
        outgoing=form["outgoing"],
        receive=form["receive"] == "on",
        send=form["send"] == "on",
        after_import=after,
        folder=form["folder"],
        sent_folder=form["sent_folder"],
        poll_interval=poll,
        username=form["username"],
        password=form["password"] or None,
        oauth_app=form["oauth_app"],
        access=form["access"] or "own",
        # the send-mode choice is always on the form; it means something for a delegate only
        send_mode=form["send_mode"] if form["access"] == MailboxAccess.SHARED_DELEGATE else "",
    )


def _values(data: dict[str, Any]) -> dict[str, str]:
    after = data["after_import"] or ""
    move_to = after.partition(":")[2] if after.startswith("move:") else ""
    return {
        "display_name": data["display_name"] or "",
        "workflow": data["workflow"] or "",
        "incoming": data["incoming"] or "",
        "outgoing": data["outgoing"] or "",
        "receive": "on" if data["receive"] else "",
        "send": "on" if data["send"] else "",
        "after_import": "move" if move_to else after,
        "move_to": move_to,
        "folder": data["folder"] or "",
        "sent_folder": data["sent_folder"] or "",
        "poll_interval": str(data["poll_interval"]),
        "username": data["username"] or "",
        "oauth_app": data["oauth_app"] or "",
        "access": data["access"],
        "send_mode": data["send_mode"] or "",
    }


def _page(request: Request, db: Session, caller: Caller, address: str, **extra: Any) -> Response:
    mailbox = mailboxes.get_system(db, caller.actor, address)
    return render(
        request,
        "system_mailbox_form.html",
        caller,
        mailbox=present.mailbox(mailbox),
        **server_choices(db),
        workflows=[w.name for w in workflows.listing(db)],
        apps=[a.name for a in oauth_apps.listing(db)],
        **extra,
    )


@router.get("/{address}/edit", response_class=HTMLResponse)
def edit_system_mailbox(request: Request, address: str, db: Db, caller: CallerDep) -> Response:
    values = _values(present.mailbox(mailboxes.get_system(db, caller.actor, address)))
    return _page(request, db, caller, address, values=values)


@router.post("/{address}/edit", response_class=HTMLResponse)
def save_system_mailbox(
    request: Request, address: str, db: Db, caller: CallerDep, form: Form
) -> Response:
    def run(tx: Session) -> Any:
        mailbox = mailboxes.get_system(tx, caller.actor, address)
        return mailbox_edits.edit(tx, caller.actor, mailbox, _change(form))

    done = attempt(run, FIELDS)
    if not done.ok:
        values = {k: v for k, v in form.items() if k != "password"}
        return _page(request, db, caller, address, status=422, errors=done.errors, values=values)
    return redirect("/settings/mailboxes", "mailbox-saved")
