"""My profile: my email mailboxes (add, default, name, test email, reconnect, delete with a
reason) and my API tokens. Every lookup names me as the owner, so no one else's appears."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep, Db
from postroom.api.network_calls import NetworkCallsDep
from postroom.services import (
    api_tokens,
    connection_tests,
    mailbox_edits,
    mailboxes,
    oauth,
    oauth_apps,
    present,
)
from postroom.web.render import Outcome, attempt, redirect, render
from postroom.web.token_pages import token_pages
from postroom.web.views.found import server_choices
from postroom.web.views.mailbox_forms import FIELDS, MailboxForm, Text, add_mailbox, switched
from postroom.web.views.reports import report_page

router = APIRouter(prefix="/profile", include_in_schema=False)


def _page(request: Request, db: Session, caller: Caller, **extra: Any) -> Response:
    mine = present.mailboxes(
        [m for m in mailboxes.listing(db, caller.actor) if m.owner_id == caller.user.id]
    )
    return render(
        request,
        "my_mailboxes.html",
        caller,
        mailboxes=mine,
        kind="personal",
        app_providers={a.name: a.provider for a in oauth_apps.listing(db)},
        **server_choices(db),
        **extra,
    )


def _after(
    request: Request, db: Session, caller: Caller, done: Outcome[Any], key: str, notice: str
) -> Response:
    """Back to the list with `notice`, or the page with the refusal beside the mailbox."""
    if not done.ok:
        errors = {key: next(iter(done.errors.values()))}
        return _page(request, db, caller, status=422, errors=errors)
    return redirect("/profile/mailboxes", notice)


@router.get("/mailboxes", response_class=HTMLResponse)
def my_mailboxes(request: Request, db: Db, caller: CallerDep) -> Response:
    return _page(request, db, caller)


@router.post("/mailboxes", response_class=HTMLResponse)
def add_my_mailbox(request: Request, db: Db, caller: CallerDep, spec: MailboxForm) -> Response:
    spec = replace(spec, owner=caller.user.email)
    page = partial(_page, request, db, caller)
    return add_mailbox(caller, spec, FIELDS, page, "/profile/mailboxes")


@router.post("/mailboxes/shared", response_class=HTMLResponse)
def add_shared_mailbox(
    request: Request,
    db: Db,
    caller: CallerDep,
    shared_address: Text = "",
    shared_name: Text = "",
    send_mode: Text = "",
) -> Response:
    """Add the shared mailbox; its row then offers the sign-in with Microsoft as oneself."""

    def run(tx: Session) -> Any:
        app = oauth_apps.name_for(tx, "microsoft", None, str(request.url_for("oauth_callback")))
        return oauth.add_shared(tx, caller.actor, app, shared_address, send_mode, shared_name)

    done = attempt(run, ["address", "display_name", "send_mode"])
    if not done.ok:
        renamed = {"address": "shared_address", "display_name": "shared_name"}
        shown = {"send_mode"}  # the others show above the form
        errors = {renamed.get(k, k if k in shown else "shared"): v for k, v in done.errors.items()}
        values = {"shared_address": shared_address, "shared_name": shared_name,
                  "send_mode": send_mode}  # fmt: skip
        return _page(request, db, caller, status=422, errors=errors, values=values)
    # The sign-in is a link in the mailbox's row: a form's redirect to the provider would be
    # stopped by the console's form-action policy.
    return redirect("/profile/mailboxes", "shared-added")


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
    return _after(request, db, caller, done, "name:" + address, "mailbox-renamed")


@router.post("/mailboxes/{address}/switch", response_class=HTMLResponse)
def switch(
    request: Request,
    address: str,
    db: Db,
    caller: CallerDep,
    receive: Text = "",
    send: Text = "",
) -> Response:
    done = attempt(
        lambda tx: mailbox_edits.switch(
            tx,
            caller.actor,
            address,
            caller.user.email,
            receive=switched(receive),
            send=switched(send),
        )
    )
    return _after(request, db, caller, done, "_form", "mailbox-switched")  # above the list


@router.post("/mailboxes/{address}/test-email", response_class=HTMLResponse)
async def send_test_email(
    request: Request, address: str, caller: CallerDep, calls: NetworkCallsDep
) -> Response:
    return await report_page(
        request,
        caller,
        calls,
        partial(
            connection_tests.check_mailbox,
            caller.actor,
            address,
            owner=caller.user.email,
            send_test_email=True,
        ),
        (address, caller.user.email),
    )


@router.post("/mailboxes/{address}/reconnect", response_class=HTMLResponse)
async def reconnect(
    request: Request, address: str, caller: CallerDep, calls: NetworkCallsDep, password: Text = ""
) -> Response:
    return await report_page(
        request,
        caller,
        calls,
        partial(
            connection_tests.reconnect,
            caller.actor,
            address,
            owner=caller.user.email,
            password=password or None,
        ),
        (address, caller.user.email),
    )


@router.post("/mailboxes/{address}/remove", response_class=HTMLResponse)
def remove(
    request: Request, address: str, db: Db, caller: CallerDep, reason: Text = ""
) -> Response:
    done = attempt(
        lambda tx: mailboxes.remove(tx, caller.actor, address, reason, caller.user.email)
    )
    return _after(request, db, caller, done, "remove:" + address, "mailbox-removed")


token_pages(router, "/profile/tokens", "tokens.html", api_tokens.KIND)
