"""Workflows: ordered steps that requests move through. Removal is soft, so the mailboxes that
pointed at a workflow still show which one it was."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from postroom.domain import validate
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.services import audit
from postroom.services.actors import Actor
from postroom.storage.models import User, Workflow, WorkflowMember, WorkflowStep, utcnow


def parse_steps(steps: str | list[str]) -> list[str]:
    items = steps.split(",") if isinstance(steps, str) else steps
    names = [s.strip() for s in items if s.strip()]
    if not names:
        raise InvalidInput(
            "A workflow needs at least one step: give them in order, "
            'e.g. --steps "New,Triage,Done".',
            field="steps",
        )
    if len({n.lower() for n in names}) != len(names):
        raise InvalidInput("Two steps have the same name: give each step its own.", field="steps")
    return [validate.name(n, "step name") for n in names]


def get(db: Session, name: str, *, include_deleted: bool = False) -> Workflow:
    workflow = db.scalar(select(Workflow).where(Workflow.name == name.strip()))
    if workflow is None or (workflow.deleted_at is not None and not include_deleted):
        raise NotFound(f"No workflow named {name!r}: `postroom workflow list` shows them.")
    return workflow


def add(db: Session, actor: Actor, name: str, steps: str | list[str]) -> Workflow:
    actor.require_admin("add workflows")
    name = validate.name(name, "workflow name")
    step_names = parse_steps(steps)
    if db.scalar(select(Workflow.id).where(Workflow.name == name)) is not None:
        raise Conflict(f"A workflow named {name!r} already exists: choose another name.")
    workflow = Workflow(
        name=name, steps=[WorkflowStep(position=i, name=s) for i, s in enumerate(step_names)]
    )
    db.add(workflow)
    db.flush()
    audit.record(db, actor, "workflow.added", name, steps=step_names)
    return workflow


def listing(db: Session, *, include_deleted: bool = False) -> list[Workflow]:
    query = select(Workflow).order_by(Workflow.name)
    if not include_deleted:
        query = query.where(Workflow.deleted_at.is_(None))
    return list(db.scalars(query))


def set_active(db: Session, actor: Actor, name: str, active: bool) -> Workflow:
    actor.require_admin("activate or deactivate workflows")
    workflow = get(db, name)
    if workflow.active != active:
        workflow.active = active
        audit.record(db, actor, "workflow.activated" if active else "workflow.deactivated", name)
    return workflow


def remove(db: Session, actor: Actor, name: str, reason: str) -> Workflow:
    actor.require_admin("remove workflows")
    why = validate.reason(reason)
    workflow = get(db, name)
    workflow.deleted_at = utcnow()
    workflow.active = False
    audit.record(db, actor, "workflow.removed", name, reason=why)
    return workflow


def members(db: Session, name: str) -> list[User]:
    workflow = get(db, name)
    query = (
        select(User)
        .join(WorkflowMember, WorkflowMember.user_id == User.id)
        .where(WorkflowMember.workflow_id == workflow.id)
        .order_by(User.email)
    )
    return list(db.scalars(query))


def give(db: Session, actor: Actor, name: str, user: User) -> None:
    """The user works this workflow's requests from now on."""
    actor.require_admin("give workflows to users")
    workflow = get(db, name)
    already = select(WorkflowMember.id).where(
        WorkflowMember.workflow_id == workflow.id, WorkflowMember.user_id == user.id
    )
    if db.scalar(already) is None:
        db.add(WorkflowMember(workflow_id=workflow.id, user_id=user.id))
        audit.record(db, actor, "workflow.given", name, user=user.email)


def take_back(db: Session, actor: Actor, name: str, user: User) -> None:
    actor.require_admin("take workflows back from users")
    workflow = get(db, name)
    db.execute(
        delete(WorkflowMember).where(
            WorkflowMember.workflow_id == workflow.id, WorkflowMember.user_id == user.id
        )
    )
    audit.record(db, actor, "workflow.taken-back", name, user=user.email)
