"""Connecting a system mailbox with app-only access from the console (a Microsoft 365 shared
mailbox has nobody to sign in): the app's client credentials, asked for on a network thread
with no transaction open, as `postroom mailbox connect … --app-only` does."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from postroom.api.deps import CallerDep, Db
from postroom.api.network_calls import NetworkCallsDep
from postroom.errors import InvalidInput, PostroomError
from postroom.services import mailboxes, oauth
from postroom.storage.db import unit_of_work
from postroom.web.render import redirect
from postroom.web.views.settings import _mailbox_page

router = APIRouter(prefix="/settings/mailboxes", include_in_schema=False)


@router.post("/{address}/connect-app-only", response_class=HTMLResponse)
async def connect_app_only(
    request: Request, address: str, db: Db, caller: CallerDep, calls: NetworkCallsDep
) -> Response:
    def run() -> None:
        from postroom.connectors.oauth2 import OAuthClient

        with unit_of_work() as tx:
            mailbox = mailboxes.get_system(tx, caller.actor, address)
            if mailbox.oauth_app is None:
                raise InvalidInput(f"{address} has no OAuth app: choose a Microsoft one first.")
            app = mailbox.oauth_app.name
            config = oauth.app_only_client(tx, caller.actor, app, address)
        with OAuthClient(config) as client:
            granted = client.client_credentials()
        with unit_of_work() as tx:
            oauth.connect_app_only(tx, caller.actor, app, address, granted)

    try:
        await calls.run(caller.actor, run)
    except PostroomError as exc:
        errors = {"remove:" + address: str(exc)}  # shown in the mailbox's row
        return _mailbox_page(request, db, caller, status=422, errors=errors)
    return redirect("/settings/mailboxes", "mailbox-connected")
