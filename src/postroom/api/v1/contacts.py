"""Contacts of the caller's mailboxes (administrators: all), synced with their accounts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import Id, Limit, Offset, page
from postroom.api.schemas import ContactIn, ContactPatch
from postroom.services import contacts, sync_records
from postroom.services.contacts import ContactChange

router = APIRouter(prefix="/contacts", tags=["contacts"])
Filter = Annotated[str | None, Query(max_length=320)]


@router.get("")
def list_contacts(
    db: Db,
    caller: CallerDep,
    mailbox: Filter = None,
    email: Filter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    rows = contacts.listing(db, caller.actor, mailbox, email)
    return page([sync_records.view(c) for c in rows], limit, offset, fetched_extra=False)


@router.get("/{contact_id}")
def show_contact(contact_id: Id, db: Db, caller: CallerDep) -> Any:
    """With its history: versions that lost a conflict with the account, or were deleted."""
    return sync_records.detail(db, contacts.get(db, caller.actor, contact_id))


@router.post("", status_code=201)
def add_contact(body: ContactIn, db: Db, caller: CallerDep) -> Any:
    """Saved at once and marked pending; the next sync writes it to the account."""
    row = contacts.add(
        db, caller.actor, body.mailbox, body.email, body.name, body.company, body.phone
    )
    return sync_records.detail(db, row)


@router.patch("/{contact_id}")
def edit_contact(contact_id: Id, body: ContactPatch, db: Db, caller: CallerDep) -> Any:
    change = ContactChange(**body.model_dump(exclude_unset=True))
    return sync_records.detail(db, contacts.edit(db, caller.actor, contact_id, change))


@router.delete("/{contact_id}", status_code=204)
def remove_contact(contact_id: Id, db: Db, caller: CallerDep) -> Response:
    """Hidden at once; the next sync deletes it on the account, unless the account changed
    it meanwhile (then the account's version comes back, and the deletion is in its history)."""
    contacts.remove(db, caller.actor, contact_id)
    return Response(status_code=204)
