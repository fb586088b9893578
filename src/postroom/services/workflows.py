"""Workflows: ordered steps that requests move through. Removal is soft, so the mailboxes that
pointed at a workflow still show which one it was."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from postroom.domain import validate
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.services import audit
from postroom.services.actors import Actor
from postroom.storage.models import (
    Request,
    User,
    Workflow,
    WorkflowMember,
    WorkflowStep,
    utcnow,
)


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


def get_to_work(db: Session, actor: Actor, name: str) -> Workflow:
    """The one rule, for console and API alike: a user works in the workflows given to them
    (administrators in all). Another one is not found, so its name reveals nothing."""
    workflow = get(db, name)
    if actor.is_admin:
        return workflow
    given = db.scalar(
        select(WorkflowMember.id).where(
            WorkflowMember.workflow_id == workflow.id, WorkflowMember.user_id == actor.user_id
        )
    )
    if given is None:
        raise NotFound(f"No workflow named {name!r} among those given to you.")
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


def set_thread_same_domain(db: Session, actor: Actor, name: str, allowed: bool) -> Workflow:
    """Whether a sender may join a request because a colleague of the same domain took part
    in it; off, only the people who took part may (inbound/participants.py)."""
    actor.require_admin("change how workflows thread mail")
    workflow = get(db, name)
    if workflow.thread_same_domain != allowed:
        workflow.thread_same_domain = allowed
        audit.record(db, actor, "workflow.threading", name, same_domain=allowed)
    return workflow


def remove(db: Session, actor: Actor, name: str, reason: str) -> Workflow:
    actor.require_admin("remove workflows")
    why = validate.reason(reason)
    workflow = get(db, name)
    workflow.deleted_at = utcnow()
    workflow.active = False
    audit.record(db, actor, "workflow.removed", name, reason=why)
    return workflow


@dataclass(frozen=True)
class StepChange:
    """One step of the new order: `was` names the existing step it keeps (renamed when the
    names differ), None for a new step."""

    name: str
    was: str | None = None


def parse_step_changes(steps: str | list[str], current: list[str]) -> list[StepChange]:
    """ "New,Triage=Working,Done": a name keeps the step of that name (or adds one), OLD=NEW
    renames a step; a step left out is removed."""
    items = steps.split(",") if isinstance(steps, str) else steps
    changes = []
    known = {c.lower(): c for c in current}
    for item in (i.strip() for i in items if i.strip()):
        old, renames, new = item.partition("=")
        if renames:
            if old.strip().lower() not in known:
                raise InvalidInput(
                    f"There is no step {old.strip()!r} to rename: the steps are "
                    f"{', '.join(current)}.",
                    field="steps",
                )
            changes.append(StepChange(new.strip(), known[old.strip().lower()]))
        else:
            changes.append(StepChange(item, known.get(item.lower())))
    names = parse_steps([c.name for c in changes])
    kept = [c.was.lower() for c in changes if c.was is not None]
    if len(set(kept)) != len(kept):
        raise InvalidInput("A step appears twice: keep or rename each step once.", field="steps")
    return [StepChange(n, c.was) for n, c in zip(names, changes, strict=True)]


def requests_on(db: Session, step: WorkflowStep) -> int:
    return db.scalar(select(func.count(Request.id)).where(Request.step_id == step.id)) or 0


def set_steps(db: Session, actor: Actor, name: str, steps: str | list[str]) -> Workflow:
    """Rename, add, reorder and remove steps. Requests stay on their step whatever its new
    name or place; removing a step that still has requests is refused, saying how many."""
    actor.require_admin("change workflow steps")
    workflow = get(db, name)
    by_name = {s.name.lower(): s for s in workflow.steps}
    changes = parse_step_changes(steps, [s.name for s in workflow.steps])
    kept = {c.was.lower() for c in changes if c.was is not None}
    dropped = [s for key, s in by_name.items() if key not in kept]
    for step in dropped:
        waiting = requests_on(db, step)
        if waiting:
            raise Conflict(
                f"Step {step.name!r} of {workflow.name} has {waiting} request(s): move them to "
                "another step first, or keep the step."
            )
    # Positions are unique per workflow: park every step out of the way before the new order.
    for offset, step in enumerate(workflow.steps):
        step.position = -1 - offset
    db.flush()
    for step in dropped:
        db.delete(step)
    db.flush()
    for position, change in enumerate(changes):
        if change.was is None:
            db.add(WorkflowStep(workflow_id=workflow.id, position=position, name=change.name))
        else:
            step = by_name[change.was.lower()]
            step.position, step.name = position, change.name
    db.flush()
    db.expire(workflow, ["steps"])
    audit.record(
        db,
        actor,
        "workflow.steps-changed",
        workflow.name,
        steps=[c.name for c in changes],
        renamed={c.was: c.name for c in changes if c.was is not None and c.was != c.name},
        removed=[s.name for s in dropped],
    )
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
