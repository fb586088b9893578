"""Workflows: everyone signed in reads them; administrators change them and give them to users."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import Limit, Offset, page
from postroom.api.schemas import Member, StepsIn, WorkflowChange, WorkflowIn
from postroom.services import listings, present, users, workflows
from postroom.storage.db import flushed_connection

router = APIRouter(prefix="/workflows", tags=["workflows"])


@router.get("")
def list_workflows(db: Db, _: CallerDep, limit: Limit = 50, offset: Offset = 0) -> Any:
    rows = listings.workflows(flushed_connection(db))
    return page(rows, limit, offset, fetched_extra=False)


@router.post("", status_code=201)
def add_workflow(body: WorkflowIn, db: Db, caller: CallerDep) -> Any:
    return present.workflow(workflows.add(db, caller.actor, body.name, body.steps))


@router.get("/{name}")
def show_workflow(name: str, db: Db, _: CallerDep) -> Any:
    return present.workflow(workflows.get(db, name)) | {
        "members": [u.email for u in workflows.members(db, name)]
    }


@router.patch("/{name}")
def change_workflow(name: str, body: WorkflowChange, db: Db, caller: CallerDep) -> Any:
    workflow = workflows.get(db, name)
    if body.active is not None:
        workflow = workflows.set_active(db, caller.actor, name, body.active)
    if body.thread_same_domain is not None:
        workflow = workflows.set_thread_same_domain(db, caller.actor, name, body.thread_same_domain)
    return present.workflow(workflow)


@router.put("/{name}/steps")
def change_steps(name: str, body: StepsIn, db: Db, caller: CallerDep) -> Any:
    """Rename, add, reorder or remove steps; requests keep their step. Removing a step that
    has requests is refused (409), saying how many."""
    return present.workflow(workflows.set_steps(db, caller.actor, name, body.steps))


@router.delete("/{name}", status_code=204)
def remove_workflow(
    name: str,
    reason: Annotated[str, Query(max_length=2000, description="kept in the audit log")],
    db: Db,
    caller: CallerDep,
) -> Response:
    workflows.remove(db, caller.actor, name, reason)
    return Response(status_code=204)


@router.post("/{name}/members", status_code=204)
def give_workflow(name: str, body: Member, db: Db, caller: CallerDep) -> Response:
    caller.actor.require_admin("give workflows to users")
    workflows.give(db, caller.actor, name, users.get(db, body.email))
    return Response(status_code=204)


@router.delete("/{name}/members/{email}", status_code=204)
def take_back_workflow(name: str, email: str, db: Db, caller: CallerDep) -> Response:
    caller.actor.require_admin("take workflows back from users")
    workflows.take_back(db, caller.actor, name, users.get(db, email))
    return Response(status_code=204)
