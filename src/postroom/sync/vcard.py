"""A contact as a vCard (RFC 6350; written as 3.0, which every CardDAV server takes).

An update changes only the fields postroom knows and keeps the rest of the account's card
(addresses, photos, notes), so a round trip through postroom loses nothing.
"""

from __future__ import annotations

from typing import Any

import vobject

from postroom.sync.source import ContactData

CONTENT_TYPE = "text/vcard; charset=utf-8"


def write(data: ContactData, uid: str, base: str | None = None) -> str:
    card: Any = vobject.readOne(base) if base else vobject.vCard()
    if not base:
        card.add("uid").value = uid
    _set(card, "fn", data.name or data.email)
    given, _, family = (data.name or data.email).rpartition(" ")
    _set(card, "n", vobject.vcard.Name(family=family, given=given))
    _set(card, "email", data.email)
    _set(card, "org", [data.company] if data.company else None)
    _set(card, "tel", data.phone)
    text: str = card.serialize()
    return text


def read(text: str) -> ContactData | None:
    """None when the text is no vCard with an address or a name: nothing postroom can use."""
    try:
        card: Any = vobject.readOne(text)
    except Exception:  # a card another client broke: skipped, never fatal to the sync
        return None
    email = _first(card, "email")
    name = _first(card, "fn")
    org = _first(card, "org")
    company = org[0] if isinstance(org, list) and org else (org or "")
    if not email and not name:
        return None
    return ContactData(
        email=str(email).strip().lower(),
        name=str(name).strip(),
        company=str(company).strip(),
        phone=str(_first(card, "tel")).strip(),
    )


def _first(card: Any, name: str) -> Any:
    lines = card.contents.get(name)
    return lines[0].value if lines else ""


def _set(card: Any, name: str, value: Any) -> None:
    lines = card.contents.get(name)
    if not value:
        card.contents.pop(name, None)
    elif lines:
        lines[0].value = value
    else:
        card.add(name).value = value
