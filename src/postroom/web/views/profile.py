"""My profile: my email mailboxes (add, default, name, test email, reconnect, delete with a
reason) and my API tokens. Every lookup names me as the owner, so no one else's appears."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep, Db
from postroom.services import api_tokens, connection_tests, mailboxes, present
from postroom.services.mailboxes import MailboxSpec
from postroom.web.render import attempt, redirect, render
from postroom.web.views.found import server_choices
from postroom.web.views.reports import report_page

router = APIRouter(prefix="/profile", include_in_schema=False)
Text = Annotated[str, Form()]
FIELDS = ["address", "display_name", "incoming", "outgoing", "username", "password", "folder"]


def _page(request: Request, db: Session, caller: Caller, **extra: Any) -> Response:
    mine = [
        present.mailbox(m)
        for m in mailboxes.listing(db, caller.actor)
        if m.owner_id == caller.user.id
    ]
    return render(
        request, "my_mailboxes.html", caller, mailboxes=mine, **server_choices(db), **extra
    )


@router.get("/mailboxes", response_class=HTMLResponse)
def my_mailboxes(request: Request, db: Db, caller: CallerDep) -> Response:
    return _page(request, db, caller)


@router.post("/mailboxes", response_class=HTMLResponse)
def add_my_mailbox(
    request: Request,
    db: Db,
    caller: CallerDep,
    address: Text = "",
    display_name: Text = "",
    incoming: Text = "",
    outgoing: Text = "",
    username: Text = "",
    password: Text = "",
    folder: Text = "INBOX",
) -> Response:
    spec = MailboxSpec(
        address=address,
        owner=caller.user.email,
        display_name=display_name,
        incoming=incoming.strip() or None,
        outgoing=outgoing.strip() or None,
        username=username.strip() or None,
        password=password or None,
        folder=folder,
    )
    done = attempt(lambda tx: mailboxes.add(tx, caller.actor, spec), FIELDS)
    if not done.ok:
        values = {k: getattr(spec, k) or "" for k in FIELDS if k != "password"}
        return _page(request, db, caller, status=422, errors=done.errors, values=values)
    return redirect("/profile/mailboxes", "mailbox-added")


@router.post("/mailboxes/{address}/default")
def make_default(address: str, caller: CallerDep) -> Response:
    done = attempt(lambda tx: mailboxes.set_default(tx, caller.actor, address, caller.user.email))
    return redirect("/profile/mailboxes", "mailbox-default" if done.ok else None)


@router.post("/mailboxes/{address}/name", response_class=HTMLResponse)
def rename(
    request: Request, address: str, db: Db, caller: CallerDep, display_name: Text = ""
) -> Response:
    done = attempt(
        lambda tx: mailboxes.rename(tx, caller.actor, address, display_name, caller.user.email)
    )
    if not done.ok:
        return _page(
            request,
            db,
            caller,
            status=422,
            errors={"name:" + address: next(iter(done.errors.values()))},
        )
    return redirect("/profile/mailboxes", "mailbox-renamed")


@router.post("/mailboxes/{address}/test-email", response_class=HTMLResponse)
def send_test_email(request: Request, address: str, caller: CallerDep) -> Response:
    return report_page(
        request,
        caller,
        lambda tx: connection_tests.check_mailbox(
            tx, caller.actor, address, owner=caller.user.email, send_test_email=True
        ),
    )


@router.post("/mailboxes/{address}/reconnect", response_class=HTMLResponse)
def reconnect(request: Request, address: str, caller: CallerDep, password: Text = "") -> Response:
    return report_page(
        request,
        caller,
        lambda tx: connection_tests.reconnect(
            tx, caller.actor, address, owner=caller.user.email, password=password or None
        ),
    )


@router.post("/mailboxes/{address}/remove", response_class=HTMLResponse)
def remove(
    request: Request, address: str, db: Db, caller: CallerDep, reason: Text = ""
) -> Response:
    done = attempt(
        lambda tx: mailboxes.remove(tx, caller.actor, address, reason, caller.user.email)
    )
    if not done.ok:
        return _page(
            request,
            db,
            caller,
            status=422,
            errors={"remove:" + address: next(iter(done.errors.values()))},
        )
    return redirect("/profile/mailboxes", "mailbox-removed")


def _tokens_page(request: Request, db: Session, caller: Caller, **extra: Any) -> Response:
    rows = [present.api_token(t) for t in api_tokens.listing(db, caller.actor)]
    return render(request, "tokens.html", caller, tokens=rows, **extra)


@router.get("/tokens", response_class=HTMLResponse)
def tokens(request: Request, db: Db, caller: CallerDep) -> Response:
    return _tokens_page(request, db, caller)


@router.post("/tokens", response_class=HTMLResponse)
def create_token(request: Request, db: Db, caller: CallerDep, name: Text = "") -> Response:
    done = attempt(lambda tx: api_tokens.create(tx, caller.actor, name)[1], ["name"])
    if not done.ok:
        return _tokens_page(
            request, db, caller, status=422, errors=done.errors, values={"name": name}
        )
    return _tokens_page(request, db, caller, new_token=done.value)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: int, caller: CallerDep) -> Response:
    attempt(lambda tx: api_tokens.revoke(tx, caller.actor, token_id))
    return redirect("/profile/tokens", "token-revoked")
