"""OAuth apps (administrators). The client secret is write-only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import Limit, Offset, page
from postroom.api.schemas import OAuthAppIn
from postroom.services import listings, oauth_apps, present
from postroom.services.oauth_apps import OAuthAppSpec
from postroom.storage.db import flushed_connection

router = APIRouter(prefix="/oauth-apps", tags=["oauth apps"])


@router.get("")
def list_oauth_apps(db: Db, caller: CallerDep, limit: Limit = 50, offset: Offset = 0) -> Any:
    caller.actor.require_admin("see the OAuth apps")
    rows = listings.oauth_apps(flushed_connection(db))
    return page(rows, limit, offset, fetched_extra=False)


@router.post("", status_code=201)
def add_oauth_app(body: OAuthAppIn, db: Db, caller: CallerDep) -> Any:
    return present.oauth_app(oauth_apps.add(db, caller.actor, OAuthAppSpec(**body.model_dump())))


@router.get("/{name}")
def show_oauth_app(name: str, db: Db, caller: CallerDep) -> Any:
    caller.actor.require_admin("see the OAuth apps")
    app = oauth_apps.get(db, name)
    return present.oauth_app(app) | {"mailboxes": [m.address for m in oauth_apps.users_of(db, app)]}


@router.put("/{name}")
def change_oauth_app(name: str, body: OAuthAppIn, db: Db, caller: CallerDep) -> Any:
    """A null or absent client_secret keeps the stored one."""
    spec = OAuthAppSpec(**body.model_dump())
    return present.oauth_app(oauth_apps.update(db, caller.actor, name, spec))


@router.delete("/{name}", status_code=204)
def remove_oauth_app(name: str, db: Db, caller: CallerDep) -> Response:
    """Refused (409) while mailboxes use the app, naming them."""
    oauth_apps.remove(db, caller.actor, name)
    return Response(status_code=204)
