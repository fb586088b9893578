"""Fetch now: ask for a mailbox to be fetched, then follow the run's progress and result."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import Id
from postroom.api.wake import fetch_now
from postroom.errors import NotFound
from postroom.services import fetch_runs
from postroom.storage.db import unit_of_work

router = APIRouter(prefix="/mailboxes", tags=["mailboxes"])
Owner = Annotated[
    str | None,
    Query(
        max_length=320, description="whose personal mailbox; leave out for your own or a system one"
    ),
]


@router.post("/{address}/fetch", status_code=202)
def fetch_mailbox_now(
    request: Request, address: str, caller: CallerDep, owner: Owner = None
) -> Any:
    """Started, not finished: follow `GET …/fetch/{run}` until `finished` is true. Asking
    while a run waits or runs answers with that run."""
    with unit_of_work() as db:
        run = fetch_runs.request(db, caller.actor, address, owner)
        data = fetch_runs.present(run, fetch_runs.address_of(db, run))
        mailbox_id = run.mailbox_id
    fetch_now(request, mailbox_id)  # after the commit: the worker must find the row
    return data


@router.get("/{address}/fetch/{run_id}")
def fetch_run(address: str, run_id: Id, db: Db, caller: CallerDep) -> Any:
    """Messages fetched so far (counted as each batch commits), then the result."""
    run = fetch_runs.get(db, caller.actor, run_id)
    mailbox = fetch_runs.address_of(db, run)
    if mailbox != address.strip().lower():
        raise NotFound(f"No fetch run {run_id} for {address}.")
    return fetch_runs.present(run, mailbox)
