"""Fetch now, on the system mailboxes page and on My profile: the button asks for a run, and
the fragment it puts beside the row asks every second for the run's counters until it ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep, Db
from postroom.api.pages import Id
from postroom.api.wake import fetch_now
from postroom.services import fetch_runs
from postroom.storage.models import FetchRun
from postroom.web.render import attempt, render

router = APIRouter(include_in_schema=False)


def _start(request: Request, caller: Caller, ask: Callable[[Session], FetchRun]) -> Response:
    def act(db: Session) -> tuple[int, dict[str, Any]]:
        run = ask(db)
        return run.mailbox_id, fetch_runs.present(run, fetch_runs.address_of(db, run))

    done = attempt(act)
    if done.value is None:
        refusal = next(iter(done.errors.values()), "The fetch could not start.")
        return render(request, "fetch_run.html", caller, run=None, refusal=refusal)
    mailbox_id, run = done.value
    fetch_now(request, mailbox_id)  # after the commit, so the worker finds the row
    return render(request, "fetch_run.html", caller, run=run)


@router.post("/settings/mailboxes/{address}/fetch", response_class=HTMLResponse)
def fetch_system_mailbox(request: Request, address: str, caller: CallerDep) -> Response:
    return _start(
        request, caller, lambda db: fetch_runs.request(db, caller.actor, address, system=True)
    )


@router.post("/profile/mailboxes/{address}/fetch", response_class=HTMLResponse)
def fetch_my_mailbox(request: Request, address: str, caller: CallerDep) -> Response:
    owner = caller.user.email
    return _start(request, caller, lambda db: fetch_runs.request(db, caller.actor, address, owner))


@router.get("/fetch-runs/{run_id}", response_class=HTMLResponse)
def fetch_run(request: Request, run_id: Id, db: Db, caller: CallerDep) -> Response:
    """Polled by the fragment while the run waits or runs; the finished run stops the polling."""
    run = fetch_runs.get(db, caller.actor, run_id)
    data = fetch_runs.present(run, fetch_runs.address_of(db, run))
    return render(request, "fetch_run.html", caller, run=data)
