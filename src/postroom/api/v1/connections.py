"""Named outbound connections (administrators)."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Response

from postroom.api.deps import CallerDep, Db
from postroom.api.network_calls import NetworkCallsDep
from postroom.api.pages import Limit, Offset, page
from postroom.api.schemas import ConnectionChange, ConnectionIn
from postroom.services import connection_tests, connections, listings, present
from postroom.services.connections import ConnectionSpec
from postroom.storage.db import flushed_connection

router = APIRouter(prefix="/connections", tags=["connections"])


@router.get("")
def list_connections(db: Db, caller: CallerDep, limit: Limit = 50, offset: Offset = 0) -> Any:
    caller.actor.require_admin("see the connections")
    rows = listings.connections(flushed_connection(db))
    return page(rows, limit, offset, fetched_extra=False)


@router.post("", status_code=201)
def add_connection(body: ConnectionIn, db: Db, caller: CallerDep) -> Any:
    spec = ConnectionSpec(**body.model_dump())
    return present.connection(connections.add(db, caller.actor, spec))


@router.get("/{name}")
def show_connection(name: str, db: Db, caller: CallerDep) -> Any:
    caller.actor.require_admin("see the connections")
    return present.connection(connections.get(db, name))


@router.patch("/{name}")
def edit_connection(name: str, body: ConnectionChange, db: Db, caller: CallerDep) -> Any:
    changes = body.model_dump(exclude_unset=True)
    return present.connection(connections.update(db, caller.actor, name, changes))


@router.post("/{name}/test")
async def test_connection(name: str, caller: CallerDep, calls: NetworkCallsDep) -> Any:
    """The step-by-step test as the connection sends; 200 with ok false when a step fails."""
    caller.actor.require_admin("test connections")
    report = await calls.run(
        caller.actor, partial(connection_tests.check_connection, caller.actor, name)
    )
    return present.reports([(name, report)])


@router.delete("/{name}", status_code=204)
def remove_connection(name: str, db: Db, caller: CallerDep) -> Response:
    connections.remove(db, caller.actor, name)
    return Response(status_code=204)
