"""Users (administrators), and who am I (everyone)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import Limit, Offset, page
from postroom.api.schemas import PasswordIn, RoleIn, UserIn, WorkflowsIn
from postroom.services import listings, present, user_admin, users
from postroom.storage.db import flushed_connection

router = APIRouter(tags=["users"])
Email = Annotated[str, "a user's email address"]
ReasonQuery = Annotated[str, Query(max_length=2000, description="kept in the audit log")]


@router.get("/me")
def me(db: Db, caller: CallerDep) -> Any:
    """The caller as stored now (the signed-in row is no longer in a session to read from)."""
    return listings.users_by_id(flushed_connection(db), [caller.user.id])[caller.user.id]


@router.get("/users")
def list_users(db: Db, caller: CallerDep, limit: Limit = 50, offset: Offset = 0) -> Any:
    rows = listings.users(flushed_connection(db), caller.actor)
    return page(rows, limit, offset, fetched_extra=False)


@router.post("/users", status_code=201)
def add_user(body: UserIn, db: Db, caller: CallerDep) -> Any:
    return present.user(users.add(db, caller.actor, body.email, body.password, admin=body.admin))


@router.get("/users/{email}")
def show_user(email: Email, db: Db, caller: CallerDep) -> Any:
    """With the workflows they work and the personal mailboxes they own."""
    return user_admin.detail(db, caller.actor, email)


@router.post("/users/{email}/disable")
def disable_user(email: Email, db: Db, caller: CallerDep) -> Any:
    """They cannot sign in, their API tokens are refused and their sessions end."""
    return present.user(user_admin.disable(db, caller.actor, email))


@router.post("/users/{email}/enable")
def enable_user(email: Email, db: Db, caller: CallerDep) -> Any:
    return present.user(user_admin.enable(db, caller.actor, email))


@router.put("/users/{email}/role")
def set_role(email: Email, body: RoleIn, db: Db, caller: CallerDep) -> Any:
    """The last administrator who can sign in is never made a user."""
    return present.user(user_admin.set_role(db, caller.actor, email, admin=body.admin))


@router.put("/users/{email}/password")
def set_password(email: Email, body: PasswordIn, db: Db, caller: CallerDep) -> Any:
    user = user_admin.set_password(
        db, caller.actor, email, body.password, must_change=body.must_change
    )
    return present.user(user)


@router.post("/users/{email}/password-reset")
def reset_password(email: Email, db: Db, caller: CallerDep) -> Any:
    """A one-time password, in this answer only; the user must change it at sign-in."""
    reset = user_admin.issue_reset(db, caller.actor, email)
    return present.user(reset.user) | {"password": reset.password}


@router.put("/users/{email}/workflows")
def set_workflows(email: Email, body: WorkflowsIn, db: Db, caller: CallerDep) -> Any:
    user_admin.set_workflows(db, caller.actor, email, body.workflows)
    return user_admin.detail(db, caller.actor, email)


@router.delete("/users/{email}", status_code=204)
def remove_user(
    email: Email,
    reason: ReasonQuery,
    db: Db,
    caller: CallerDep,
    mailboxes: Annotated[Literal["remove", "hand-over"], Query()] = "remove",
    to: Annotated[str | None, Query(max_length=320, description="hand-over: to whom")] = None,
) -> Response:
    """Their personal mailboxes are removed (with the reason) or handed to user `to`."""
    user_admin.remove(db, caller.actor, email, reason, mailboxes_to=mailboxes, hand_to=to)
    return Response(status_code=204)
