"""The OAuth2 web flow: /oauth/start sends the browser to the provider's sign-in page,
/oauth/callback takes it back and connects the mailbox. Who is acting comes from the
`acting_user` dependency, which the console replaces with its signed-in user; until then
the routes refuse, so nobody adds mailboxes anonymously."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from postroom.api.deps import CallerDep
from postroom.api.network_calls import NetworkCallsDep
from postroom.connectors.oauth2 import TokenSet
from postroom.errors import InvalidInput, NotFound, PermissionDenied, PostroomError
from postroom.services import oauth, oauth_apps, present
from postroom.services.actors import Actor
from postroom.storage.db import unit_of_work
from postroom.web.render import error_page, redirect

router = APIRouter(prefix="/oauth", tags=["oauth"])

STATUS = {InvalidInput: 400, PermissionDenied: 403, NotFound: 404}


def acting_user(found: CallerDep) -> Actor:
    """The console's signed-in user (or an API token's): who starts the sign-in."""
    return found.actor


def _problem(exc: PostroomError) -> JSONResponse:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    body = {
        "type": f"about:blank#{exc.code}",
        "title": exc.code,
        "status": status,
        "detail": str(exc),
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


@router.get("/start")
def start(
    request: Request,
    actor: Annotated[Actor, Depends(acting_user)],
    provider: str,
    mailbox: str | None = None,
    app: str | None = None,
    system: bool = False,
) -> Response:
    """Add an Office 365 / Gmail mailbox (no address: the signed-in account's), or reconnect."""
    redirect_uri = str(request.url_for("oauth_callback"))
    try:
        with unit_of_work() as db:
            name = oauth_apps.name_for(db, provider, app, redirect_uri)
            url = oauth.start_web_flow(db, actor, name, mailbox, redirect_uri, system=system)
    except PostroomError as exc:
        if "text/html" in request.headers.get("accept", ""):  # a person in the console
            problem = _problem(exc)
            return error_page(request, problem.status_code, str(exc))
        return _problem(exc)
    return RedirectResponse(url, status_code=302)


@router.get("/callback", name="oauth_callback")
async def callback(
    request: Request,
    calls: NetworkCallsDep,
    state: str,
    code: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Any:
    """Three steps, so no database connection waits on the provider: use up the state (one
    transaction), redeem the code (network thread, no transaction), keep the tokens (another)."""
    if error is not None:
        return _problem(
            InvalidInput(f"The sign-in was not completed: {error_description or error}.")
        )
    if not code:
        return _problem(InvalidInput("The provider sent no code: start the sign-in again."))
    try:
        pending = await anyio.to_thread.run_sync(_take, state)
        granted = await calls.wait(partial(oauth.redeem_code, pending, code))
        data = await anyio.to_thread.run_sync(_finish, pending, granted)
    except PostroomError as exc:
        return _problem(exc)
    if "text/html" in request.headers.get("accept", ""):  # a person in the console
        page = "/settings/mailboxes" if data["kind"] == "system" else "/profile/mailboxes"
        return redirect(page, "mailbox-connected")
    return data


def _take(state: str) -> oauth.PendingSignIn:
    with unit_of_work() as db:
        return oauth.take_web_flow(db, state)


def _finish(pending: oauth.PendingSignIn, granted: TokenSet) -> dict[str, Any]:
    with unit_of_work() as db:
        return present.mailbox(oauth.finish_web_flow(db, pending, granted))
