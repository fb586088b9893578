"""Mail settings: the servers list, add and edit with a Test connection button, removal."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep, Db
from postroom.api.network_calls import NetworkCallsDep
from postroom.domain.settings import LoginFormat, Protocol, Security
from postroom.errors import PostroomError
from postroom.services import connection_tests, present, servers
from postroom.services.servers import ServerSpec
from postroom.web.render import Outcome, attempt, redirect, render

router = APIRouter(prefix="/settings/servers", include_in_schema=False)
FIELDS = list(servers.EDITABLE)
Text = Annotated[str, Form()]
Optional = Annotated[str | None, Form()]


class ServerForm:
    """The form as typed; numbers stay text until the service checks them, so a mistake is
    shown beside its field with what was typed."""

    def __init__(
        self,
        name: Text = "",
        protocol: Text = "imap",
        host: Text = "",
        port: Text = "",
        security: Text = "tls",
        connect_timeout: Text = "15",
        timeout: Text = "60",
        login_format: Text = "address",
        verify_tls: Optional = None,
        provider_domains: Text = "",
        send_rate: Text = "",
        recipients_per_day: Text = "",
    ) -> None:
        self.values: dict[str, Any] = {
            "name": name,
            "protocol": protocol,
            "host": host,
            "port": port,
            "security": security,
            "connect_timeout": connect_timeout,
            "timeout": timeout,
            "login_format": login_format,
            "verify_tls": verify_tls or "",
            "provider_domains": provider_domains,
            "send_rate": send_rate,
            "recipients_per_day": recipients_per_day,
        }

    def spec(self) -> ServerSpec:
        v = self.values
        return ServerSpec(
            name=v["name"],
            protocol=v["protocol"],
            host=v["host"] or None,
            port=_number(v["port"], "port", int),
            security=v["security"],
            connect_timeout=_number(v["connect_timeout"], "connect timeout", float),
            timeout=_number(v["timeout"], "operation timeout", float),
            login_format=v["login_format"],
            verify_tls=bool(v["verify_tls"]),
            provider_domains=tuple(
                d.strip() for d in v["provider_domains"].split(",") if d.strip()
            ),
            send_rate=v["send_rate"].strip() or None,  # blank: the provider's default
            recipients_per_day=_number(v["recipients_per_day"], "recipients a day", int),
        )


def _number(text: str, field: str, kind: type[int] | type[float]) -> Any:
    from postroom.errors import InvalidInput

    if not text.strip():
        return None
    try:
        return kind(text.strip())
    except ValueError:
        raise InvalidInput(f"The {field} {text!r} is not a number.", field=field) from None


def choices() -> dict[str, Any]:
    return {
        "protocols": [p.value for p in Protocol],
        "securities": [s.value for s in Security],
        "login_formats": [f.value for f in LoginFormat],
    }


def _rows(db: Session) -> list[dict[str, Any]]:
    """Each server as listed, with the mailboxes that use it."""
    listed = servers.listing(db)
    return [
        shown | {"mailboxes": [m.address for m in servers.users_of(db, s)]}
        for s, shown in zip(listed, present.servers(listed), strict=True)
    ]


@router.get("", response_class=HTMLResponse)
def server_list(request: Request, db: Db, caller: CallerDep) -> Response:
    caller.actor.require_admin("see the mail settings")
    return render(request, "servers.html", caller, servers=_rows(db))


@router.get("/new", response_class=HTMLResponse)
def new_server(request: Request, caller: CallerDep) -> Response:
    """A blank form, or one filled from settings a mailbox form found (?host=…&port=…)."""
    caller.actor.require_admin("add servers")
    values = ServerForm(verify_tls="on").values
    values |= {k: v for k, v in request.query_params.items() if k in FIELDS and k != "verify_tls"}
    return render(request, "server_form.html", caller, editing=None, values=values, **choices())


def _saved_or_form(
    request: Request,
    caller: Caller,
    form: ServerForm,
    done: Outcome[Any],
    editing: str | None,
    notice: str,
) -> Response:
    """Back to the list, or the form again as typed with the refusal beside its field."""
    if not done.ok:
        return render(
            request,
            "server_form.html",
            caller,
            status=422,
            editing=editing,
            values=form.values,
            errors=done.errors,
            **choices(),
        )
    return redirect("/settings/servers", notice)


@router.post("/new", response_class=HTMLResponse)
def add_server(
    request: Request, caller: CallerDep, form: Annotated[ServerForm, Depends()]
) -> Response:
    done = attempt(lambda db: servers.add(db, caller.actor, form.spec()), FIELDS)
    return _saved_or_form(request, caller, form, done, None, "server-added")


@router.post("/test", response_class=HTMLResponse)
async def test_typed_server(
    request: Request,
    caller: CallerDep,
    calls: NetworkCallsDep,
    form: Annotated[ServerForm, Depends()],
) -> Response:
    """The Test connection button: the server as typed, saved or not."""
    try:
        caller.actor.require_admin("test servers")
        test = partial(connection_tests.check_unsaved_server, caller.actor, form.spec())
        report = await calls.run(caller.actor, test)
    except PostroomError as exc:
        return render(request, "report.html", caller, reports=[], failure=str(exc))
    return render(
        request, "report.html", caller, reports=present.reports([("server", report)])["reports"]
    )


@router.get("/{server}", response_class=HTMLResponse)
def edit_server(request: Request, server: str, db: Db, caller: CallerDep) -> Response:
    caller.actor.require_admin("change servers")
    row = servers.get(db, server)
    values = present.server(row)
    values["provider_domains"] = ", ".join(values["provider_domains"])
    values["verify_tls"] = "on" if values["verify_tls"] else ""
    values["send_rate"] = values["send_rate"] or "none"  # blank would mean the default
    values["recipients_per_day"] = values["recipients_per_day"] or 0
    values = {k: "" if v is None else v for k, v in values.items()}
    users_of = [m.address for m in servers.users_of(db, row)]
    return render(
        request,
        "server_form.html",
        caller,
        editing=row.name,
        values=values,
        mailboxes=users_of,
        **choices(),
    )


@router.post("/{server}", response_class=HTMLResponse)
def save_server(
    request: Request, server: str, caller: CallerDep, form: Annotated[ServerForm, Depends()]
) -> Response:
    done = attempt(lambda db: servers.update(db, caller.actor, server, form.spec()), FIELDS)
    return _saved_or_form(request, caller, form, done, server, "server-saved")


@router.post("/{server}/remove", response_class=HTMLResponse)
def remove_server(request: Request, server: str, db: Db, caller: CallerDep) -> Response:
    caller.actor.require_admin("remove servers")  # before anything is looked up or shown
    done = attempt(lambda tx: servers.remove(tx, caller.actor, server))
    if not done.ok:
        rows = _rows(db)
        return render(
            request,
            "servers.html",
            caller,
            status=409,
            servers=rows,
            errors={"remove:" + server: done.errors["_form"]},
        )
    return redirect("/settings/servers", "server-removed")
