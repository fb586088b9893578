"""Providers (the Creatio seed's provider domains): which servers serve which domains, so
discovery offers them first. Built-in providers keep their settings; their added domains and
everything about an administrator's own provider can change here."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep, Db
from postroom.domain.settings import OAuthProvider
from postroom.services import present, providers, servers
from postroom.services.providers import ProviderSpec
from postroom.web.render import attempt, redirect, render
from postroom.web.views.mailbox_forms import Text

router = APIRouter(prefix="/settings/providers", include_in_schema=False)

FIELDS = ["name", "display_name", "oauth_provider", "servers", "domains"]


def _spec(
    name: Text = "",
    display_name: Text = "",
    oauth_provider: Text = "",
    servers: Annotated[list[str] | None, Form()] = None,
    domains: Text = "",
) -> ProviderSpec:
    return ProviderSpec(
        name=name,
        servers=tuple(servers or ()),
        display_name=display_name,
        oauth_provider=oauth_provider or None,
        domains=tuple(d for d in re.split(r"[\s,]+", domains) if d),
    )


SpecForm = Annotated[ProviderSpec, Depends(_spec)]


def _values(spec: ProviderSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "display_name": spec.display_name,
        "oauth_provider": spec.oauth_provider or "",
        "servers": list(spec.servers),
        "domains": ", ".join(spec.domains),
    }


def _page(request: Request, db: Session, caller: Caller, **extra: Any) -> Response:
    caller.actor.require_admin("manage providers")
    rows = [present.provider(p) for p in providers.listing(db)]
    return render(
        request,
        "providers.html",
        caller,
        providers=rows,
        server_names=[s.name for s in servers.listing(db)],
        oauth_kinds=[k.value for k in OAuthProvider],
        **extra,
    )


@router.get("", response_class=HTMLResponse)
def provider_list(request: Request, db: Db, caller: CallerDep) -> Response:
    return _page(request, db, caller)


@router.post("", response_class=HTMLResponse)
def add_provider(request: Request, db: Db, caller: CallerDep, spec: SpecForm) -> Response:
    done = attempt(lambda tx: providers.add(tx, caller.actor, spec), FIELDS)
    if not done.ok:
        return _page(request, db, caller, status=422, errors=done.errors, values=_values(spec))
    return redirect("/settings/providers", "provider-added")


@router.get("/{provider}", response_class=HTMLResponse)
def edit_provider(request: Request, provider: str, db: Db, caller: CallerDep) -> Response:
    caller.actor.require_admin("change providers")
    view = providers.get(db, provider)
    values = {
        "name": view.name,
        "display_name": view.display_name if view.kind == "own" else "",
        "oauth_provider": view.oauth_provider.value if view.oauth_provider else "",
        "servers": list(view.server_names),
        "domains": ", ".join(view.added_domains),
    }
    return _page(request, db, caller, editing=present.provider(view), values=values)


@router.post("/{provider}", response_class=HTMLResponse)
def save_provider(
    request: Request, provider: str, db: Db, caller: CallerDep, spec: SpecForm
) -> Response:
    done = attempt(lambda tx: providers.update(tx, caller.actor, provider, spec), FIELDS)
    if not done.ok:
        editing = present.provider(providers.get(db, provider))
        return _page(
            request,
            db,
            caller,
            status=422,
            editing=editing,
            errors=done.errors,
            values=_values(spec),
        )
    return redirect("/settings/providers", "provider-saved")


@router.post("/{provider}/remove", response_class=HTMLResponse)
def remove_provider(request: Request, provider: str, db: Db, caller: CallerDep) -> Response:
    done = attempt(lambda tx: providers.remove(tx, caller.actor, provider))
    if not done.ok:
        return _page(request, db, caller, status=409, errors=done.errors)
    return redirect("/settings/providers", "provider-removed")
