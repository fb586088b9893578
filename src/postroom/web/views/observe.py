"""The Doctor page (what will stop working, and the fix) and, under My profile, the metrics
tokens administrators make for Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from postroom.api.deps import CallerDep
from postroom.config import get_settings
from postroom.services import doctor, metrics_tokens
from postroom.storage.db import default_engine
from postroom.web.render import render
from postroom.web.token_pages import token_pages

router = APIRouter(include_in_schema=False)


@router.get("/doctor", response_class=HTMLResponse)
def doctor_page(request: Request, caller: CallerDep) -> Response:
    """The servers are probed as the page loads (a few seconds at most, in parallel)."""
    days = get_settings().doctor_within_days
    report = doctor.examine(default_engine(), caller.actor, days)
    return render(request, "doctor.html", caller, report=report.as_dict())


token_pages(router, "/profile/metrics-tokens", "metrics_tokens.html", metrics_tokens.KIND)
