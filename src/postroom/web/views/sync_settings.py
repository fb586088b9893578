"""A mailbox's contacts and calendar sync in the console: the two switches, the DAV URL, each
kind's last success, last error and next run, and "Sync now". Administrators reach system
mailboxes, owners their personal ones, through the same services as `postroom mailbox edit`
and `postroom sync --once`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep, Db
from postroom.services import mailbox_edits, mailboxes, sync_status
from postroom.services.mailbox_edits import MailboxChange
from postroom.storage.db import default_engine
from postroom.web.render import attempt, redirect, render
from postroom.web.views.mailbox_forms import Text

router = APIRouter(prefix="/mailboxes/{address}/sync", include_in_schema=False)
FIELDS = ["sync", "dav_url"]


def _page(request: Request, db: Session, caller: Caller, address: str, **extra: Any) -> Response:
    state = sync_status.status(db, caller.actor, address)
    return render(request, "sync.html", caller, state=state, **extra)


@router.get("", response_class=HTMLResponse)
def sync_page(request: Request, address: str, db: Db, caller: CallerDep) -> Response:
    return _page(request, db, caller, address)


@router.post("", response_class=HTMLResponse)
def save_sync(
    request: Request,
    address: str,
    db: Db,
    caller: CallerDep,
    contacts: Text = "",
    calendar: Text = "",
    dav_url: Text = "",
) -> Response:
    wanted = [k for k, on in (("contacts", contacts), ("calendar", calendar)) if on == "on"]
    change = MailboxChange(sync=",".join(wanted) or "none", dav_url=dav_url)

    def save(tx: Session) -> str:
        mailbox = mailboxes.get_for(tx, caller.actor, address)
        return mailbox_edits.edit(tx, caller.actor, mailbox, change).address

    done = attempt(save, FIELDS)
    if not done.ok:
        values = {"dav_url": dav_url, "contacts": contacts, "calendar": calendar}
        return _page(request, db, caller, address, status=422, errors=done.errors, values=values)
    return redirect(f"/mailboxes/{done.value}/sync", "sync-saved")


@router.post("/now", response_class=HTMLResponse)
def sync_now(request: Request, address: str, db: Db, caller: CallerDep) -> Response:
    """Runs here, each page committed as it comes; the page then shows the outcome."""
    done = attempt(lambda _tx: sync_status.sync_now(default_engine(), caller.actor, address))
    db.expire_all()  # the pass committed in its own transactions
    runs = [r.as_dict() for r in done.value] if done.value else []
    return _page(request, db, caller, address, runs=runs, errors=done.errors)
