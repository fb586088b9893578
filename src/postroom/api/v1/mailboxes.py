"""Mailboxes: administrators see and manage all; a user only their own. Another user's mailbox
answers 404 exactly as a mailbox that does not exist."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from postroom.api.deps import CallerDep, Db
from postroom.api.network_calls import NetworkCallsDep
from postroom.api.pages import Limit, Offset, page
from postroom.api.schemas import MailboxBatch, MailboxChange, MailboxIn, Reconnect
from postroom.services import (
    connection_tests,
    listings,
    mailbox_edits,
    mailbox_import,
    mailboxes,
    present,
)
from postroom.services.mailboxes import MailboxSpec
from postroom.storage.db import flushed_connection

router = APIRouter(prefix="/mailboxes", tags=["mailboxes"])
ReasonQuery = Annotated[str, Query(max_length=2000, description="kept in the audit log")]
Owner = Annotated[
    str | None,
    Query(
        max_length=320,
        description="whose personal mailbox; leave out for your own or a system mailbox",
    ),
]


@router.get("")
def list_mailboxes(db: Db, caller: CallerDep, limit: Limit = 50, offset: Offset = 0) -> Any:
    rows = listings.mailboxes(flushed_connection(db), caller.actor)
    return page(rows, limit, offset, fetched_extra=False)


@router.post("", status_code=201)
def add_mailbox(body: MailboxIn, db: Db, caller: CallerDep) -> Any:
    return present.mailbox(mailboxes.add(db, caller.actor, MailboxSpec(**body.model_dump())))


@router.post("/import", status_code=201)
def import_mailboxes(body: MailboxBatch, db: Db, caller: CallerDep) -> Any:
    """All or nothing, as `postroom mailbox import`; a refused item is named by its position."""
    rows = [
        mailbox_import.Row(position, MailboxSpec(**item.model_dump()))
        for position, item in enumerate(body.mailboxes, start=1)
    ]
    added = mailbox_import.add_all(db, caller.actor, rows, unit="item")
    return {"added": len(added), "mailboxes": [present.mailbox(m) for m in added]}


@router.get("/{address}")
def show_mailbox(address: str, db: Db, caller: CallerDep, owner: Owner = None) -> Any:
    return present.mailbox(mailboxes.get_for(db, caller.actor, address, owner))


@router.patch("/{address}")
def edit_mailbox(
    address: str, body: MailboxChange, db: Db, caller: CallerDep, owner: Owner = None
) -> Any:
    """Only the fields sent change, all at once or not at all."""
    mailbox = mailboxes.get_for(db, caller.actor, address, owner)
    change = mailbox_edits.MailboxChange(**body.model_dump(exclude_unset=True))
    return present.mailbox(mailbox_edits.edit(db, caller.actor, mailbox, change))


@router.post("/{address}/default")
def set_default_mailbox(address: str, db: Db, caller: CallerDep, owner: Owner = None) -> Any:
    return present.mailbox(mailboxes.set_default(db, caller.actor, address, owner))


@router.post("/{address}/test")
async def test_mailbox(
    address: str, caller: CallerDep, calls: NetworkCallsDep, owner: Owner = None
) -> Any:
    test = partial(connection_tests.check_mailbox, caller.actor, address, owner=owner)
    return present.reports(await calls.run(caller.actor, test))


@router.post("/{address}/test-email")
async def send_test_email(
    address: str, caller: CallerDep, calls: NetworkCallsDep, owner: Owner = None
) -> Any:
    test = partial(
        connection_tests.check_mailbox, caller.actor, address, owner=owner, send_test_email=True
    )
    return present.reports(await calls.run(caller.actor, test))


@router.post("/{address}/reconnect")
async def reconnect_mailbox(
    address: str,
    caller: CallerDep,
    calls: NetworkCallsDep,
    body: Reconnect | None = None,
    owner: Owner = None,
) -> Any:
    password = body.password if body else None
    test = partial(
        connection_tests.reconnect, caller.actor, address, owner=owner, password=password
    )
    return present.reports(await calls.run(caller.actor, test))


@router.delete("/{address}", status_code=204)
def remove_mailbox(
    address: str, reason: ReasonQuery, db: Db, caller: CallerDep, owner: Owner = None
) -> Response:
    mailboxes.remove(db, caller.actor, address, reason, owner)
    return Response(status_code=204)
