"""Users (administrators), and who am I (everyone)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import Limit, Offset, page
from postroom.api.schemas import UserIn
from postroom.services import present, users

router = APIRouter(tags=["users"])


@router.get("/me")
def me(caller: CallerDep) -> Any:
    return present.user(caller.user)


@router.get("/users")
def list_users(db: Db, caller: CallerDep, limit: Limit = 50, offset: Offset = 0) -> Any:
    rows = [present.user(u) for u in users.listing(db, caller.actor)]
    return page(rows, limit, offset, fetched_extra=False)


@router.post("/users", status_code=201)
def add_user(body: UserIn, db: Db, caller: CallerDep) -> Any:
    return present.user(users.add(db, caller.actor, body.email, body.password, admin=body.admin))
