"""Find settings: the first step of the add-mailbox and add-server forms. The person types an
address; discovery's best candidate fills the server fields, each saying where it came from.
Only the address is sent anywhere: no password leaves the form."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep
from postroom.api.network_calls import NetworkCalls, NetworkCallsDep
from postroom.discovery.model import Candidate, Discovery
from postroom.errors import PostroomError
from postroom.services import discovery, servers
from postroom.storage.db import unit_of_work
from postroom.web.render import render
from postroom.web.views.servers import ServerForm, choices

router = APIRouter(prefix="/discover", include_in_schema=False)
Text = Annotated[str, Form()]

SOURCES = {
    "admin": "your administrators' table",
    "built-in": "built-in table",
    "autoconfig": "the domain's autoconfig file",
    "ispdb": "Thunderbird's ISPDB",
    "mx": "the provider of the domain's MX host",
    "srv": "the domain's DNS SRV records",
    "autodiscover": "Microsoft Autodiscover",
}


@dataclass(frozen=True)
class Found:
    """One role's finding, worded for the form."""

    role: str  # incoming | outgoing | server
    candidate: Candidate | None
    server: str | None = None  # a configured server with these settings

    @property
    def setting(self) -> str:
        c = self.candidate
        return f"{c.protocol.value} {c.host}:{c.port} ({c.security.value})" if c else ""

    @property
    def origin(self) -> str:
        c = self.candidate
        if c is None:
            return "nothing found: choose it yourself"
        if c.guessed:
            return "guessed — check before saving"
        return "found by: " + SOURCES.get(c.source, c.source)

    @property
    def add_link(self) -> str:
        c = self.candidate
        if c is None:
            return ""
        query = {
            "protocol": c.protocol.value,
            "host": c.host,
            "port": str(c.port),
            "security": c.security.value,
            "login_format": c.login_format.value,
        }
        return "/settings/servers/new?" + urlencode(query)


def server_choices(db: Session) -> dict[str, Any]:
    """The servers a mailbox form offers, by role."""
    listed = servers.listing(db)

    def label(name: str, protocol: str, host: str) -> tuple[str, str]:
        return (name, f"{name} ({protocol}, {host})")

    return {
        "incoming": [label(s.name, s.protocol, s.host) for s in listed if s.protocol != "smtp"],
        "outgoing": [
            label(s.name, s.protocol, s.host)
            for s in listed
            if s.protocol in ("smtp", "graph", "gmail")
        ],
    }


async def _discover(calls: NetworkCalls, caller: Caller, address: str) -> Discovery | str:
    """On a network thread, with no database connection held while it waits."""
    try:
        return await calls.run(caller.actor, partial(discovery.discover, caller.actor, address))
    except PostroomError as exc:
        return str(exc)


def _mailbox_servers_page(
    request: Request,
    caller: Caller,
    result: Discovery | str,
    values: dict[str, str],
    kind: str = "",
) -> Response:
    found: list[Found] = []
    with unit_of_work() as db:
        if isinstance(result, Discovery):
            for role, sending in (("incoming", False), ("outgoing", True)):
                best = result.best(sending=sending)
                match = discovery.matching_server(db, best) if best else None
                if match is not None:
                    values[role] = match.name
                found.append(Found(role, best, match.name if match else None))
        choices_now = server_choices(db)
    context: dict[str, Any] = {
        "values": values,
        "found": {f.role: f for f in found},
        "failure": result if isinstance(result, str) else None,
        "admin": caller.actor.is_admin,
        "kind": kind,
    }
    return render(request, "mailbox_servers.html", caller, **choices_now, **context)


@router.post("/mailbox-servers", response_class=HTMLResponse)
async def mailbox_servers(
    request: Request,
    caller: CallerDep,
    calls: NetworkCallsDep,
    address: Text = "",
    incoming: Text = "",
    outgoing: Text = "",
    kind: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The incoming and outgoing selects, set to the configured servers that match; on a
    person's own form, a sign-in link when the provider found signs in with OAuth."""
    values = {"incoming": incoming, "outgoing": outgoing, "address": address}
    result = await _discover(calls, caller, address)
    return await run_in_threadpool(_mailbox_servers_page, request, caller, result, values, kind)


@router.post("/server", response_class=HTMLResponse)
async def server_fields(
    request: Request,
    caller: CallerDep,
    calls: NetworkCallsDep,
    form: Annotated[ServerForm, Depends()],
    discover_address: Text = "",
) -> Response:
    """The add-server form's protocol, host, port, security and login format, filled from the
    best candidate for the protocol chosen (or the best one to receive with)."""
    caller.actor.require_admin("add servers")
    values = form.values
    result = await _discover(calls, caller, discover_address)
    found = None
    if isinstance(result, Discovery):
        wanted = values["protocol"]
        best = next(
            (c for c in result.candidates if c.protocol.value == wanted), None
        ) or result.best(sending=wanted == "smtp")
        found = Found("server", best)
        if best is not None:
            values |= {
                "protocol": best.protocol.value,
                "host": best.host,
                "port": str(best.port),
                "security": best.security.value,
                "login_format": best.login_format.value,
            }
    return render(
        request,
        "server_fields.html",
        caller,
        values=values,
        found=found,
        failure=result if isinstance(result, str) else None,
        **choices(),
    )
