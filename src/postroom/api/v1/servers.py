"""Mail servers (administrators)."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Response

from postroom.api.deps import CallerDep, Db
from postroom.api.network_calls import NetworkCallsDep
from postroom.api.pages import Limit, Offset, page
from postroom.api.schemas import ServerIn
from postroom.services import connection_tests, listings, present, servers
from postroom.services.servers import ServerSpec
from postroom.storage.db import flushed_connection

router = APIRouter(prefix="/servers", tags=["servers"])


def spec(body: ServerIn) -> ServerSpec:
    return ServerSpec(**body.model_dump() | {"provider_domains": tuple(body.provider_domains)})


@router.get("")
def list_servers(db: Db, caller: CallerDep, limit: Limit = 50, offset: Offset = 0) -> Any:
    caller.actor.require_admin("see the mail servers")
    return page(listings.servers(flushed_connection(db)), limit, offset, fetched_extra=False)


@router.post("", status_code=201)
def add_server(body: ServerIn, db: Db, caller: CallerDep) -> Any:
    return present.server(servers.add(db, caller.actor, spec(body)))


@router.get("/{name}")
def show_server(name: str, db: Db, caller: CallerDep) -> Any:
    caller.actor.require_admin("see the mail servers")
    return present.server(servers.get(db, name)) | {
        "mailboxes": [m.address for m in servers.users_of(db, servers.get(db, name))]
    }


@router.put("/{name}")
def change_server(name: str, body: ServerIn, db: Db, caller: CallerDep) -> Any:
    return present.server(servers.update(db, caller.actor, name, spec(body)))


@router.delete("/{name}", status_code=204)
def remove_server(name: str, db: Db, caller: CallerDep) -> Response:
    servers.remove(db, caller.actor, name)
    return Response(status_code=204)


@router.post("/{name}/test")
async def test_server(name: str, caller: CallerDep, calls: NetworkCallsDep) -> Any:
    """Resolve, connect, TLS, greeting and capabilities, step by step."""
    caller.actor.require_admin("test servers")
    report = await calls.run(
        caller.actor, partial(connection_tests.check_server, caller.actor, name)
    )
    return present.reports([("server", report)])
