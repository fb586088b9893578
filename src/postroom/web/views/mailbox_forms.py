"""The add-mailbox form that a person's My mailboxes and the administrators' System mailboxes
share: the same fields, read the same way, and the same answer to a refusal (the page again
with the errors beside the fields and what was typed, the password excepted)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Form
from fastapi.responses import Response

from postroom.api.deps import Caller
from postroom.services import mailboxes
from postroom.services.mailboxes import MailboxSpec
from postroom.web.render import attempt, redirect

Text = Annotated[str, Form()]
FIELDS = ["address", "display_name", "incoming", "outgoing", "username", "password", "folder"]


def or_none(text: str) -> str | None:
    """An empty or blank form field means "not given"."""
    return text.strip() or None


def switched(value: str) -> bool | None:
    """A receive or send switch's form value: "on", "off", or absent (left as it is)."""
    return {"on": True, "off": False}.get(value)


def _mailbox_spec(
    address: Text = "",
    display_name: Text = "",
    incoming: Text = "",
    outgoing: Text = "",
    username: Text = "",
    password: Text = "",
    folder: Text = "INBOX",
) -> MailboxSpec:
    return MailboxSpec(
        address=address,
        display_name=display_name,
        incoming=or_none(incoming),
        outgoing=or_none(outgoing),
        username=or_none(username),
        password=password or None,
        folder=folder,
    )


#: The fields both pages post, as a spec; each page then says whose mailbox it is.
MailboxForm = Annotated[MailboxSpec, Depends(_mailbox_spec)]


def add_mailbox(
    caller: Caller,
    spec: MailboxSpec,
    fields: list[str],
    page: Callable[..., Response],
    done_path: str,
) -> Response:
    """Add the mailbox, or show `page` again with the refusal and the values typed."""
    done = attempt(lambda tx: mailboxes.add(tx, caller.actor, spec), fields)
    if not done.ok:
        values = {k: getattr(spec, k) or "" for k in fields if k != "password"}
        return page(status=422, errors=done.errors, values=values)
    return redirect(done_path, "mailbox-added")
