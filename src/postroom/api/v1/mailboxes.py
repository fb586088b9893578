"""Mailboxes: administrators see and manage all; a user only their own. Another user's mailbox
answers 404 exactly as a mailbox that does not exist."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import Limit, Offset, page
from postroom.api.schemas import MailboxChange, MailboxIn, Reconnect
from postroom.services import connection_tests, mailbox_edits, mailboxes, present
from postroom.services.mailboxes import MailboxSpec

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
    rows = [present.mailbox(m) for m in mailboxes.listing(db, caller.actor)]
    return page(rows, limit, offset, fetched_extra=False)


@router.post("", status_code=201)
def add_mailbox(body: MailboxIn, db: Db, caller: CallerDep) -> Any:
    return present.mailbox(mailboxes.add(db, caller.actor, MailboxSpec(**body.model_dump())))


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
def test_mailbox(address: str, db: Db, caller: CallerDep, owner: Owner = None) -> Any:
    return present.reports(connection_tests.check_mailbox(db, caller.actor, address, owner=owner))


@router.post("/{address}/test-email")
def send_test_email(address: str, db: Db, caller: CallerDep, owner: Owner = None) -> Any:
    reports = connection_tests.check_mailbox(
        db, caller.actor, address, owner=owner, send_test_email=True
    )
    return present.reports(reports)


@router.post("/{address}/reconnect")
def reconnect_mailbox(
    address: str, db: Db, caller: CallerDep, body: Reconnect | None = None, owner: Owner = None
) -> Any:
    password = body.password if body else None
    reports = connection_tests.reconnect(db, caller.actor, address, owner=owner, password=password)
    return present.reports(reports)


@router.delete("/{address}", status_code=204)
def remove_mailbox(
    address: str, reason: ReasonQuery, db: Db, caller: CallerDep, owner: Owner = None
) -> Response:
    mailboxes.remove(db, caller.actor, address, reason, owner)
    return Response(status_code=204)
