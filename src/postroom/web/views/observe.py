"""The Doctor page (what will stop working, and the fix) and, under My profile, the metrics
tokens administrators make for Prometheus."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep, Db
from postroom.config import get_settings
from postroom.services import doctor, metrics_tokens
from postroom.storage.db import default_engine
from postroom.web.render import attempt, redirect, render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]


@router.get("/doctor", response_class=HTMLResponse)
def doctor_page(request: Request, caller: CallerDep) -> Response:
    """The servers are probed as the page loads (a few seconds at most, in parallel)."""
    days = get_settings().doctor_within_days
    report = doctor.examine(default_engine(), caller.actor, days)
    return render(request, "doctor.html", caller, report=report.as_dict())


def _tokens_page(request: Request, db: Session, caller: Caller, **extra: Any) -> Response:
    rows = [metrics_tokens.present(t) for t in metrics_tokens.listing(db, caller.actor)]
    return render(request, "metrics_tokens.html", caller, tokens=rows, **extra)


@router.get("/profile/metrics-tokens", response_class=HTMLResponse)
def tokens(request: Request, db: Db, caller: CallerDep) -> Response:
    return _tokens_page(request, db, caller)


@router.post("/profile/metrics-tokens", response_class=HTMLResponse)
def create_token(request: Request, db: Db, caller: CallerDep, name: Text = "") -> Response:
    done = attempt(lambda tx: metrics_tokens.create(tx, caller.actor, name)[1], ["name"])
    if not done.ok:
        return _tokens_page(
            request, db, caller, status=422, errors=done.errors, values={"name": name}
        )
    return _tokens_page(request, db, caller, new_token=done.value)


@router.post("/profile/metrics-tokens/{token_id}/revoke")
def revoke_token(token_id: int, caller: CallerDep) -> Response:
    attempt(lambda tx: metrics_tokens.revoke(tx, caller.actor, token_id))
    return redirect("/profile/metrics-tokens", "token-revoked")
