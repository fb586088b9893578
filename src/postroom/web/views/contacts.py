"""A mailbox's contacts in the console: list, search, add, edit, remove, and each contact's
history (the versions that lost a conflict with the account). The next sync writes changes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep, Db
from postroom.api.pages import Id
from postroom.services import contacts, mailboxes, sync_records, sync_status
from postroom.services.contacts import ContactChange
from postroom.web.render import attempt, redirect, render
from postroom.web.views.mailbox_forms import Text

router = APIRouter(include_in_schema=False)
FIELDS = ["email", "name", "company", "phone"]


def _list_page(
    request: Request, db: Session, caller: Caller, address: str, **extra: Any
) -> Response:
    mailbox = mailboxes.get_for(db, caller.actor, address)
    search = request.query_params.get("q", "")
    rows = contacts.listing(db, caller.actor, mailbox.address, search=search)
    return render(
        request,
        "contacts.html",
        caller,
        address=mailbox.address,
        syncing=mailbox.sync_contacts,
        contacts=[sync_records.view(c) for c in rows],
        q=search,
        **extra,
    )


@router.get("/mailboxes/{address}/contacts", response_class=HTMLResponse)
def contact_list(request: Request, address: str, db: Db, caller: CallerDep) -> Response:
    return _list_page(request, db, caller, address)


@router.post("/mailboxes/{address}/contacts", response_class=HTMLResponse)
def add_contact(
    request: Request,
    address: str,
    db: Db,
    caller: CallerDep,
    email: Text = "",
    name: Text = "",
    company: Text = "",
    phone: Text = "",
) -> Response:
    done = attempt(
        lambda tx: contacts.add(tx, caller.actor, address, email, name, company, phone).id, FIELDS
    )
    if not done.ok:
        values = {"email": email, "name": name, "company": company, "phone": phone}
        return _list_page(
            request, db, caller, address, status=422, errors=done.errors, values=values
        )
    return redirect(f"/contacts/{done.value}", "contact-added")


def _detail_page(
    request: Request, db: Session, caller: Caller, contact_id: int, **extra: Any
) -> Response:
    contact = contacts.get(db, caller.actor, contact_id)
    data = sync_records.detail(db, contact)
    return render(
        request,
        "contact.html",
        caller,
        contact=data,
        address=sync_status.address_of(db, contact.mailbox_id),
        values=extra.pop("values", None) or data,
        **extra,
    )


@router.get("/contacts/{contact_id}", response_class=HTMLResponse)
def contact_detail(request: Request, contact_id: Id, db: Db, caller: CallerDep) -> Response:
    return _detail_page(request, db, caller, contact_id)


@router.post("/contacts/{contact_id}", response_class=HTMLResponse)
def save_contact(
    request: Request,
    contact_id: Id,
    db: Db,
    caller: CallerDep,
    email: Text = "",
    name: Text = "",
    company: Text = "",
    phone: Text = "",
) -> Response:
    change = ContactChange(email=email, name=name, company=company, phone=phone)
    done = attempt(lambda tx: contacts.edit(tx, caller.actor, contact_id, change).id, FIELDS)
    if not done.ok:
        values = {"email": email, "name": name, "company": company, "phone": phone}
        return _detail_page(
            request, db, caller, contact_id, status=422, errors=done.errors, values=values
        )
    return redirect(f"/contacts/{contact_id}", "contact-saved")


@router.post("/contacts/{contact_id}/remove", response_class=HTMLResponse)
def remove_contact(request: Request, contact_id: Id, db: Db, caller: CallerDep) -> Response:
    address = sync_status.address_of(db, contacts.get(db, caller.actor, contact_id).mailbox_id)
    done = attempt(lambda tx: contacts.remove(tx, caller.actor, contact_id))
    if not done.ok:
        return _detail_page(request, db, caller, contact_id, status=409, errors=done.errors)
    return redirect(f"/mailboxes/{address}/contacts", "contact-removed")
