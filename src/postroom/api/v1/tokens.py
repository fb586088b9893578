"""My API tokens: the plain token is in the answer to its creation, and nowhere ever after."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import Id, Limit, Offset, page
from postroom.api.schemas import TokenIn
from postroom.services import api_tokens, present

router = APIRouter(prefix="/me/tokens", tags=["api tokens"])


@router.get("")
def list_tokens(db: Db, caller: CallerDep, limit: Limit = 50, offset: Offset = 0) -> Any:
    rows = [present.api_token(t) for t in api_tokens.listing(db, caller.actor)]
    return page(rows, limit, offset, fetched_extra=False)


@router.post("", status_code=201)
def create_token(body: TokenIn, db: Db, caller: CallerDep) -> Any:
    row, token = api_tokens.create(db, caller.actor, body.name)
    return present.api_token(row) | {"token": token}


@router.delete("/{token_id}")
def revoke_token(token_id: Id, db: Db, caller: CallerDep) -> Any:
    return present.api_token(api_tokens.revoke(db, caller.actor, token_id))
