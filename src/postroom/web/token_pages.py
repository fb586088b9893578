"""The console's pages for a kind of bearer token (list, make, revoke), made once for each kind:
My API tokens (/profile/tokens) and, for administrators, metrics tokens
(/profile/metrics-tokens). The template says what differs: its words and columns."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep, Db
from postroom.services.bearer_tokens import TokenKind
from postroom.web.render import attempt, redirect, render

Text = Annotated[str, Form()]


def token_pages(router: APIRouter, path: str, template: str, kind: TokenKind[Any]) -> None:
    """`path` as the browser sees it; the routes are added under the router's own prefix."""
    route = path.removeprefix(router.prefix)

    def page(request: Request, db: Session, caller: Caller, **extra: Any) -> Response:
        rows = kind.present(kind.listing(db, caller.actor))
        return render(request, template, caller, tokens=rows, path=path, **extra)

    @router.get(route, response_class=HTMLResponse)
    def tokens(request: Request, db: Db, caller: CallerDep) -> Response:
        return page(request, db, caller)

    @router.post(route, response_class=HTMLResponse)
    def create_token(request: Request, db: Db, caller: CallerDep, name: Text = "") -> Response:
        done = attempt(lambda tx: kind.create(tx, caller.actor, name)[1], ["name"])
        if not done.ok:
            return page(request, db, caller, status=422, errors=done.errors, values={"name": name})
        return page(request, db, caller, new_token=done.value)

    @router.post(route + "/{token_id}/revoke")
    def revoke_token(token_id: int, db: Db, caller: CallerDep) -> Response:
        """A token not found (another user's) is an error page, never "the token was revoked"."""
        kind.revoke(db, caller.actor, token_id)
        return redirect(path, "token-revoked")
