"""Contacts of the mailboxes a user manages (administrators: system mailboxes too), synced
with each mailbox's account. A change made here is marked pending in its own transaction, so
it reaches the account at the next sync pass even if the process dies first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from postroom.domain import validate
from postroom.errors import InvalidInput, NotFound
from postroom.services import mailboxes, sync_records
from postroom.services.actors import Actor
from postroom.storage.models import Contact, Mailbox, Request

LIMIT = 1000


@dataclass
class ContactChange:
    """None leaves a field as it is; "" clears company or phone."""

    email: str | None = None
    name: str | None = None
    company: str | None = None
    phone: str | None = None


def require_sync(mailbox: Mailbox, kind: str) -> None:
    on = mailbox.sync_contacts if kind == "contacts" else mailbox.sync_calendar
    if not on:
        raise InvalidInput(
            f"{mailbox.address} does not sync its {kind}: switch it on with "
            f"`postroom mailbox edit {mailbox.address} --sync {kind}` first.",
            field="mailbox",
        )


def listing(
    db: Session,
    actor: Actor,
    mailbox: str | None = None,
    email: str | None = None,
    search: str | None = None,
) -> list[Contact]:
    """`search`: a part of the name, address, company or phone, any case."""
    ids = select(mailboxes.visible_to(actor).subquery().c.id)
    query = select(Contact).where(Contact.mailbox_id.in_(ids), Contact.deleting.is_(False))
    if mailbox is not None:
        query = query.where(Contact.mailbox_id == mailboxes.get_for(db, actor, mailbox).id)
    if email:
        query = query.where(Contact.email == email.strip().lower())
    if search and search.strip():
        like = (
            "%"
            + search.strip().lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
            + "%"
        )
        query = query.where(
            or_(
                *(
                    func.lower(column).like(like, escape="\\")
                    for column in (Contact.name, Contact.email, Contact.company, Contact.phone)
                )
            )
        )
    return list(db.scalars(query.order_by(Contact.name, Contact.email, Contact.id).limit(LIMIT)))


def get(db: Session, actor: Actor, contact_id: int) -> Contact:
    ids = select(mailboxes.visible_to(actor).subquery().c.id)
    contact = db.scalar(
        select(Contact).where(
            Contact.id == contact_id, Contact.mailbox_id.in_(ids), Contact.deleting.is_(False)
        )
    )
    if contact is None:
        raise NotFound(f"No contact {contact_id} among your mailboxes: `postroom contact list`.")
    return contact


def add(
    db: Session,
    actor: Actor,
    address: str,
    email: str,
    name: str,
    company: str = "",
    phone: str = "",
) -> Contact:
    mailbox = mailboxes.get_for(db, actor, address)
    require_sync(mailbox, "contacts")
    contact = Contact(
        mailbox_id=mailbox.id,
        email=validate.address(email, "email").lower(),
        name=_text(name, "name", 300),
        company=_text(company, "company", 300),
        phone=_text(phone, "phone", 100),
        pending=True,
    )
    db.add(contact)
    sync_records.changed_here(db, actor, contact, "added", contact.email, mailbox=mailbox.address)
    return contact


def edit(db: Session, actor: Actor, contact_id: int, change: ContactChange) -> Contact:
    contact = get(db, actor, contact_id)
    if change.email is not None:
        contact.email = validate.address(change.email, "email").lower()
    if change.name is not None:
        contact.name = _text(change.name, "name", 300)
    if change.company is not None:
        contact.company = _text(change.company, "company", 300)
    if change.phone is not None:
        contact.phone = _text(change.phone, "phone", 100)
    sync_records.changed_here(db, actor, contact, "edited", contact.email)
    return contact


def remove(db: Session, actor: Actor, contact_id: int) -> None:
    """Hidden at once; the row stays, marked, until the next sync has deleted it on the
    account with the etag it was based on (a crash before then only delays the delete)."""
    contact = get(db, actor, contact_id)
    sync_records.changed_here(db, actor, contact, "removed", contact.email)


def of_requester(db: Session, request: Request) -> dict[str, Any] | None:
    """The requester's contact, when a synced address book knows them: the request's own
    mailbox first, then any other."""
    if not request.requester:
        return None
    found = db.scalars(
        select(Contact)
        .where(Contact.email == request.requester.strip().lower(), Contact.deleting.is_(False))
        .order_by((Contact.mailbox_id == request.mailbox_id).desc(), Contact.id)
        .limit(1)
    ).first()
    if found is None:
        return None
    return {"name": found.name, "company": found.company, "phone": found.phone}


def _text(value: str, field: str, limit: int) -> str:
    value = value.strip()
    if len(value) > limit or any(ord(c) < 32 for c in value):
        raise InvalidInput(
            f"The {field} must be one line of at most {limit} characters.", field=field
        )
    return value
