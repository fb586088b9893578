"""OAuth apps, system mailboxes and connections (administrators)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep, Db
from postroom.api.network_calls import NetworkCallsDep
from postroom.connectors.test_connection import Report
from postroom.domain.settings import MailboxAccess, OAuthProvider
from postroom.errors import InvalidInput
from postroom.services import (
    connection_tests,
    connections,
    listings,
    mailboxes,
    oauth_apps,
    present,
    workflows,
)
from postroom.services.connections import ConnectionSpec
from postroom.services.oauth_apps import OAuthAppSpec
from postroom.storage.db import flushed_connection, unit_of_work
from postroom.web.render import attempt, redirect, render
from postroom.web.views.found import server_choices
from postroom.web.views.mailbox_forms import FIELDS, MailboxForm, Text, add_mailbox, or_none
from postroom.web.views.reports import report_page

router = APIRouter(prefix="/settings", include_in_schema=False)


def _oauth_page(request: Request, db: Session, caller: Caller, **extra: Any) -> Response:
    caller.actor.require_admin("manage OAuth apps")
    apps = listings.oauth_apps(flushed_connection(db))
    providers = [p.value for p in OAuthProvider]
    return render(request, "oauth_apps.html", caller, apps=apps, providers=providers, **extra)


@router.get("/oauth-apps", response_class=HTMLResponse)
def oauth_app_list(request: Request, db: Db, caller: CallerDep) -> Response:
    return _oauth_page(request, db, caller)


OAUTH_FIELDS = ["name", "provider", "client_id", "tenant", "authorize_url", "token_url", "scopes"]


def _oauth_spec(
    name: Text = "",
    provider: Text = "microsoft",
    client_id: Text = "",
    client_secret: Text = "",
    tenant: Text = "",
    authorize_url: Text = "",
    token_url: Text = "",
    scopes: Text = "",
) -> OAuthAppSpec:
    return OAuthAppSpec(
        name=name,
        provider=provider,
        client_id=client_id,
        client_secret=or_none(client_secret),
        tenant=or_none(tenant),
        authorize_url=or_none(authorize_url),
        token_url=or_none(token_url),
        scopes=or_none(scopes),
    )


OAuthForm = Annotated[OAuthAppSpec, Depends(_oauth_spec)]


def _oauth_values(spec: OAuthAppSpec) -> dict[str, str]:
    return {k: getattr(spec, k) or "" for k in OAUTH_FIELDS}


@router.post("/oauth-apps", response_class=HTMLResponse)
def add_oauth_app(request: Request, db: Db, caller: CallerDep, spec: OAuthForm) -> Response:
    done = attempt(lambda tx: oauth_apps.add(tx, caller.actor, spec), OAUTH_FIELDS)
    if not done.ok:
        values = _oauth_values(spec)
        return _oauth_page(request, db, caller, status=422, errors=done.errors, values=values)
    return redirect("/settings/oauth-apps", "oauth-app-added")


@router.get("/oauth-apps/{app}", response_class=HTMLResponse)
def edit_oauth_app(request: Request, app: str, db: Db, caller: CallerDep) -> Response:
    caller.actor.require_admin("change OAuth apps")
    values = {k: v or "" for k, v in present.oauth_app(oauth_apps.get(db, app)).items()}
    return _oauth_page(request, db, caller, editing=app, values=values)


@router.post("/oauth-apps/{app}", response_class=HTMLResponse)
def save_oauth_app(
    request: Request, app: str, db: Db, caller: CallerDep, spec: OAuthForm
) -> Response:
    done = attempt(lambda tx: oauth_apps.update(tx, caller.actor, app, spec), OAUTH_FIELDS)
    if not done.ok:
        values = _oauth_values(spec)
        return _oauth_page(
            request, db, caller, status=422, editing=app, errors=done.errors, values=values
        )
    return redirect("/settings/oauth-apps", "oauth-app-saved")


@router.post("/oauth-apps/{app}/remove", response_class=HTMLResponse)
def remove_oauth_app(request: Request, app: str, db: Db, caller: CallerDep) -> Response:
    done = attempt(lambda tx: oauth_apps.remove(tx, caller.actor, app))
    if not done.ok:
        errors = {"remove:" + app: done.errors["_form"]}
        return _oauth_page(request, db, caller, status=409, errors=errors)
    return redirect("/settings/oauth-apps", "oauth-app-removed")


def _mailbox_page(request: Request, db: Session, caller: Caller, **extra: Any) -> Response:
    caller.actor.require_admin("manage system mailboxes")
    rows = present.mailboxes([m for m in mailboxes.listing(db, caller.actor) if m.owner_id is None])
    apps = {a.name: a.provider for a in oauth_apps.listing(db)}  # a Sign in link needs both
    return render(
        request,
        "system_mailboxes.html",
        caller,
        mailboxes=rows,
        **server_choices(db),
        workflows=[w.name for w in workflows.listing(db)],
        apps=list(apps),
        app_providers=apps,
        **extra,
    )


@router.get("/mailboxes", response_class=HTMLResponse)
def system_mailboxes(request: Request, db: Db, caller: CallerDep) -> Response:
    return _mailbox_page(request, db, caller)


MAILBOX_FIELDS = [*FIELDS, "workflow", "after_import", "oauth_app", "access", "send_mode"]


@router.post("/mailboxes", response_class=HTMLResponse)
def add_system_mailbox(
    request: Request,
    db: Db,
    caller: CallerDep,
    spec: MailboxForm,
    oauth_app: Text = "",
    workflow: Text = "",
    after_import: Text = "",
    access: Text = "own",
    send_mode: Text = "",
) -> Response:
    spec = replace(
        spec,
        system=True,
        oauth_app=or_none(oauth_app),
        workflow=or_none(workflow),
        after_import=or_none(after_import),
        access=access or "own",
        # the send-mode choice is always on the form; it means something for a delegate only
        send_mode=or_none(send_mode) if access == MailboxAccess.SHARED_DELEGATE else None,
    )
    page = partial(_mailbox_page, request, db, caller)
    return add_mailbox(caller, spec, MAILBOX_FIELDS, page, "/settings/mailboxes")


@router.post("/mailboxes/test", response_class=HTMLResponse)
async def test_unsaved_system_mailbox(
    request: Request, caller: CallerDep, calls: NetworkCallsDep, spec: MailboxForm
) -> Response:
    """The add form's Test button: the account as typed, before Save."""
    return await report_page(
        request, caller, calls, partial(connection_tests.check_unsaved_mailbox, caller.actor, spec)
    )


@router.post("/mailboxes/{address}/test", response_class=HTMLResponse)
async def test_system_mailbox(
    request: Request, address: str, caller: CallerDep, calls: NetworkCallsDep
) -> Response:
    def run() -> list[tuple[str, Report]]:
        with unit_of_work() as db:
            mailboxes.get_system(db, caller.actor, address)
        return connection_tests.check_mailbox(caller.actor, address)

    return await report_page(request, caller, calls, run, (address, None))


@router.post("/mailboxes/{address}/remove", response_class=HTMLResponse)
def remove_system_mailbox(
    request: Request, address: str, db: Db, caller: CallerDep, reason: Text = ""
) -> Response:
    def run(tx: Session) -> None:
        mailbox = mailboxes.get_system(tx, caller.actor, address)
        mailboxes.remove(tx, caller.actor, mailbox.address, reason)

    done = attempt(run)
    if not done.ok:
        return _mailbox_page(
            request, db, caller, status=422, errors={"remove:" + address: done.errors["_form"]}
        )
    return redirect("/settings/mailboxes", "mailbox-removed")


def _connection_page(request: Request, db: Session, caller: Caller, **extra: Any) -> Response:
    caller.actor.require_admin("manage connections")
    rows = listings.connections(flushed_connection(db))
    senders = [
        m.address
        for m in mailboxes.listing(db, caller.actor)
        if m.owner_id is None and m.outgoing_server is not None
    ]
    return render(request, "connections.html", caller, connections=rows, senders=senders, **extra)


@router.get("/connections", response_class=HTMLResponse)
def connection_list(request: Request, db: Db, caller: CallerDep) -> Response:
    return _connection_page(request, db, caller)


CONNECTION_FIELDS = [
    "name",
    "mailbox",
    "security",
    "connect_timeout",
    "send_timeout",
    "auth",
    "action_base_url",
]


def _seconds(value: str, what: str) -> float | None:
    if not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        raise InvalidInput(
            f"The {what} {value!r} is not a number of seconds.", field=what
        ) from None


def _connection_form(
    name: Text = "",
    mailbox: Text = "",
    security: Text = "",
    connect_timeout: Text = "",
    send_timeout: Text = "",
    auth: Text = "basic",
    action_base_url: Text = "",
) -> dict[str, str]:
    return {
        "name": name,
        "mailbox": mailbox,
        "security": security,
        "connect_timeout": connect_timeout,
        "send_timeout": send_timeout,
        "auth": auth,
        "action_base_url": action_base_url,
    }


ConnectionForm = Annotated[dict[str, str], Depends(_connection_form)]


def _connection_spec(form: dict[str, str]) -> ConnectionSpec:
    """Typed numbers are checked inside the transaction, so a bad one lands beside its field."""
    return ConnectionSpec(
        name=form["name"],
        mailbox=form["mailbox"],
        security=or_none(form["security"]),
        connect_timeout=_seconds(form["connect_timeout"], "connect timeout"),
        send_timeout=_seconds(form["send_timeout"], "send timeout"),
        auth=form["auth"] or "basic",
        action_base_url=or_none(form["action_base_url"]),
    )


@router.post("/connections", response_class=HTMLResponse)
def add_connection(request: Request, db: Db, caller: CallerDep, form: ConnectionForm) -> Response:
    done = attempt(
        lambda tx: connections.add(tx, caller.actor, _connection_spec(form)), CONNECTION_FIELDS
    )
    if not done.ok:
        return _connection_page(request, db, caller, status=422, errors=done.errors, values=form)
    return redirect("/settings/connections", "connection-added")


@router.get("/connections/{connection}", response_class=HTMLResponse)
def edit_connection(request: Request, connection: str, db: Db, caller: CallerDep) -> Response:
    caller.actor.require_admin("change connections")
    values = {
        k: "" if v is None else str(v)
        for k, v in present.connection(connections.get(db, connection)).items()
    }
    return _connection_page(request, db, caller, editing=connection, values=values)


@router.post("/connections/{connection}", response_class=HTMLResponse)
def save_connection(
    request: Request, connection: str, db: Db, caller: CallerDep, form: ConnectionForm
) -> Response:
    def run(tx: Session) -> Any:
        changes = vars(_connection_spec(form))
        return connections.update(tx, caller.actor, connection, changes)

    done = attempt(run, CONNECTION_FIELDS)
    if not done.ok:
        return _connection_page(
            request, db, caller, status=422, editing=connection, errors=done.errors, values=form
        )
    return redirect("/settings/connections", "connection-saved")


@router.post("/connections/{connection}/test", response_class=HTMLResponse)
async def test_connection(
    request: Request, connection: str, caller: CallerDep, calls: NetworkCallsDep
) -> Response:
    """The Test button: each step of the test, put in place beside the row by htmx."""
    return await report_page(
        request,
        caller,
        calls,
        lambda: [(connection, connection_tests.check_connection(caller.actor, connection))],
    )


@router.post("/connections/{connection}/remove", response_class=HTMLResponse)
def remove_connection(request: Request, connection: str, db: Db, caller: CallerDep) -> Response:
    done = attempt(lambda tx: connections.remove(tx, caller.actor, connection))
    if not done.ok:
        return _connection_page(request, db, caller, status=422, errors=done.errors)
    return redirect("/settings/connections", "connection-removed")
