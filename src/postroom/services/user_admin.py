"""Administering users: disable, enable, remove, password, role and workflows. Each is one
function here that the console, the API and the CLI all call; each checks the actor first,
writes the audit log, and refuses what would leave nobody able to administer postroom."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from postroom.domain import validate
from postroom.errors import Conflict, InvalidInput
from postroom.services import audit, mailboxes, present, users, workflows
from postroom.services.actors import Actor
from postroom.storage.models import Mailbox, User, WebSession, Workflow, WorkflowMember, utcnow

REMOVE, HAND_OVER = "remove", "hand-over"
MAILBOX_CHOICES = (REMOVE, HAND_OVER)


@dataclass(frozen=True)
class Reset:
    user: User
    password: str  # shown once to the administrator, who passes it on; never stored plain


def _target(db: Session, actor: Actor, email: str, what: str) -> User:
    actor.require_admin(what)
    users.lock_for_writing(db)  # the last-admin checks and the change act as one step
    return users.get(db, email)


def _other_admins(db: Session, user: User) -> int:
    query = select(func.count()).where(
        User.is_admin, User.disabled_at.is_(None), User.id != user.id
    )
    return db.scalar(query.select_from(User)) or 0


def _keep_an_admin(db: Session, user: User, what: str) -> None:
    if user.is_admin and user.disabled_at is None and _other_admins(db, user) == 0:
        raise Conflict(
            f"{user.email} is the last administrator who can sign in: make another user an "
            f"administrator before you {what}."
        )


def _not_yourself(actor: Actor, user: User, what: str) -> None:
    if actor.user_id == user.id:
        raise Conflict(f"You cannot {what} yourself: ask another administrator.")


def end_sessions(db: Session, user: User) -> None:
    db.execute(delete(WebSession).where(WebSession.user_id == user.id))


def disable(db: Session, actor: Actor, email: str) -> User:
    """They cannot sign in, their API tokens are refused, their console sessions end."""
    user = _target(db, actor, email, "disable users")
    _not_yourself(actor, user, "disable")
    _keep_an_admin(db, user, "disable this one")
    if user.disabled_at is None:
        user.disabled_at = utcnow()
        audit.record(db, actor, "user.disabled", user.email)
    end_sessions(db, user)
    return user


def enable(db: Session, actor: Actor, email: str) -> User:
    user = _target(db, actor, email, "enable users")
    if user.disabled_at is not None:
        user.disabled_at = None
        audit.record(db, actor, "user.enabled", user.email)
    return user


def set_role(db: Session, actor: Actor, email: str, *, admin: bool) -> User:
    user = _target(db, actor, email, "change roles")
    if user.is_admin and not admin:
        _keep_an_admin(db, user, "make this one a user")
    if user.is_admin != admin:
        user.is_admin = admin
        audit.record(db, actor, "user.role-changed", user.email, admin=admin)
    return user


def set_password(
    db: Session, actor: Actor, email: str, password: str, *, must_change: bool = True
) -> User:
    """An administrator sets the password; by default the user picks their own at next sign-in.
    Their sessions end, so whoever used the old password is signed out."""
    user = _target(db, actor, email, "set other users' passwords")
    users.set_password(user, password)
    user.must_change_password = must_change
    end_sessions(db, user)
    audit.record(db, actor, "user.password-set", user.email, must_change=must_change)
    return user


def issue_reset(db: Session, actor: Actor, email: str) -> Reset:
    """A one-time password to hand to the user, who must change it when they sign in."""
    password = secrets.token_urlsafe(12)
    user = set_password(db, actor, email, password, must_change=True)
    return Reset(user=user, password=password)


def set_workflows(db: Session, actor: Actor, email: str, names: list[str]) -> User:
    """The user works exactly these workflows' requests (administrators work all anyway)."""
    user = _target(db, actor, email, "give workflows to users")
    wanted = {workflows.get(db, name).name for name in names if name.strip()}
    current = set(db.scalars(_member_of(user)))
    for name in sorted(wanted - current):
        workflows.give(db, actor, name, user)
    for name in sorted(current - wanted):
        workflows.take_back(db, actor, name, user)
    return user


def _member_of(user: User) -> Any:
    return (
        select(Workflow.name)
        .join(WorkflowMember, WorkflowMember.workflow_id == Workflow.id)
        .where(WorkflowMember.user_id == user.id)
        .order_by(Workflow.name)
    )


def remove(
    db: Session,
    actor: Actor,
    email: str,
    reason: str,
    *,
    mailboxes_to: str = REMOVE,
    hand_to: str | None = None,
) -> None:
    """Their personal mailboxes are removed with the same reason, or handed to another user
    (who then owns and reads them); either way nothing is left without an owner."""
    why = validate.reason(reason)
    user = _target(db, actor, email, "remove users")
    _not_yourself(actor, user, "remove")
    _keep_an_admin(db, user, "remove this one")
    owned = list(db.scalars(select(Mailbox).where(Mailbox.owner_id == user.id)))
    if mailboxes_to == HAND_OVER:
        if not hand_to:
            raise InvalidInput("Say whom the mailboxes go to.", field="hand_to")
        heir = users.get(db, hand_to)
        if heir.id == user.id:
            raise InvalidInput("Hand the mailboxes to someone else.", field="hand_to")
        _hand_over(db, actor, owned, user, heir)
    elif mailboxes_to == REMOVE:
        for mailbox in owned:
            mailboxes.remove(db, actor, mailbox.address, why, owner=user.email)
    else:
        raise InvalidInput(
            f"Choose what happens to the mailboxes: {' or '.join(MAILBOX_CHOICES)}.",
            field="mailboxes",
        )
    audit.record(
        db, actor, "user.removed", user.email, reason=why, mailboxes=mailboxes_to, to=hand_to
    )
    db.delete(user)
    db.flush()


def _hand_over(db: Session, actor: Actor, owned: list[Mailbox], user: User, heir: User) -> None:
    theirs = {m.address: m for m in db.scalars(select(Mailbox).where(Mailbox.owner_id == heir.id))}
    clash = sorted(m.address for m in owned if m.address in theirs)
    if clash:
        raise Conflict(
            f"{heir.email} already has {', '.join(clash)}: remove theirs first, or choose "
            "to remove this user's mailboxes."
        )
    has_default = any(m.is_default for m in theirs.values())
    for mailbox in owned:
        if has_default:
            mailbox.is_default = False
        mailbox.owner_id = heir.id
        db.flush()  # one at a time: at most one default for the heir at every step
        moved = {"from": user.email, "to": heir.email}
        audit.record(db, actor, "mailbox.handed-over", mailbox.address, **moved)


def change_own_password(db: Session, actor: Actor, current: str, new: str) -> User:
    """The user themselves, knowing the current password; this clears a required change."""
    if actor.user_id is None:
        raise InvalidInput("Only a signed-in user changes their own password.")
    user = db.get(User, actor.user_id)
    assert user is not None
    if not users.verify_password(user, current):
        raise InvalidInput("The current password is wrong.", field="current")
    if current == new:
        raise InvalidInput("Choose a password different from the current one.", field="password")
    users.set_password(user, new)
    user.must_change_password = False
    audit.record(db, actor, "user.password-changed", user.email)
    return user


def detail(db: Session, actor: Actor, email: str) -> dict[str, Any]:
    actor.require_admin("see users")
    user = users.get(db, email)
    owned = db.scalars(
        select(Mailbox.address).where(Mailbox.owner_id == user.id).order_by(Mailbox.address)
    )
    return present.user(user) | {
        "workflows": list(db.scalars(_member_of(user))),
        "mailboxes": list(owned),
    }
