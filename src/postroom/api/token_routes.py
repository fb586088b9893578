"""The routes every kind of bearer token has (list, make, revoke), made once for each kind:
API tokens under /api/v1/me/tokens, metrics tokens under /api/v1/metrics-tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import Id, Limit, Offset, page
from postroom.api.schemas import TokenIn
from postroom.services.bearer_tokens import TokenKind


def token_routes(prefix: str, tag: str, kind: TokenKind[Any]) -> APIRouter:
    """The plain token is in the answer to its creation, and nowhere ever after."""
    router = APIRouter(prefix=prefix, tags=[tag])

    @router.get("")
    def list_tokens(db: Db, caller: CallerDep, limit: Limit = 50, offset: Offset = 0) -> Any:
        rows = kind.present(kind.listing(db, caller.actor))
        return page(rows, limit, offset, fetched_extra=False)

    @router.post("", status_code=201)
    def create_token(body: TokenIn, db: Db, caller: CallerDep) -> Any:
        row, token = kind.create(db, caller.actor, body.name)
        return kind.present([row])[0] | {"token": token}

    @router.delete("/{token_id}")
    def revoke_token(token_id: Id, db: Db, caller: CallerDep) -> Any:
        return kind.present([kind.revoke(db, caller.actor, token_id)])[0]

    return router
