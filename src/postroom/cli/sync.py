"""postroom sync / contact / activity: contacts and calendars synced with the mailboxes'
accounts, both ways (services/sync_runs.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from postroom.cli.context import database
from postroom.cli.output import JsonFlag, emit, fields, table
from postroom.cli.params import LARGEST, RowId
from postroom.errors import InvalidInput
from postroom.services import activities, contacts, sync_records, sync_runs
from postroom.services.activities import ActivityChange, ActivitySpec
from postroom.services.actors import OPERATOR
from postroom.services.contacts import ContactChange
from postroom.storage.db import default_engine

Mailbox = Annotated[str | None, typer.Option("--mailbox", help="Only this mailbox's")]
RequestId = Annotated[int | None, typer.Option("--request", min=1, max=LARGEST)]

contact_app = typer.Typer(
    help="Contacts, synced with the mailboxes' accounts.", no_args_is_help=True
)
activity_app = typer.Typer(
    help="Activities: follow-ups and meetings in the mailboxes' calendars.", no_args_is_help=True
)


def sync(
    mailbox: Mailbox = None,
    once: Annotated[bool, typer.Option("--once", help="One pass of each, then exit")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Sync contacts and calendars with the accounts, both ways; exit 1 if one failed."""
    if not once:
        raise InvalidInput("Say --once: continuous syncing runs inside `postroom serve`.")
    with database():
        pass  # the schema exists before the first pass
    rows = [r.as_dict() for r in sync_runs.sync_once(default_engine(), mailbox)]
    columns = ["address", "kind", "ok", "pulled", "pushed", "conflicts", "deleted", "error"]
    # The table says why a pass was skipped where an error would be; --json has `skipped`.
    shown = [
        {**r, "error": r["error"] or (r["skipped"] and f"skipped: {r['skipped']}")} for r in rows
    ]
    emit(as_json, rows, table(shown, columns, "No mailbox syncs contacts or a calendar."))
    if not all(r["ok"] for r in rows):
        raise typer.Exit(1)


@contact_app.command("list")
def contact_list(
    mailbox: Mailbox = None,
    email: Annotated[str | None, typer.Option(help="Only this address")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Contacts of the mailboxes that sync them; PENDING: not yet written to the account."""
    with database() as db:
        rows = [sync_records.view(c) for c in contacts.listing(db, OPERATOR, mailbox, email)]
    columns = ["id", "email", "name", "company", "phone", "pending"]
    emit(as_json, rows, table(rows, columns, "No contacts."))


@contact_app.command("show")
def contact_show(contact_id: RowId, as_json: JsonFlag = False) -> None:
    """One contact with its history: versions that lost a conflict, or that the account deleted."""
    with database() as db:
        data = sync_records.detail(db, contacts.get(db, OPERATOR, contact_id))
    emit(as_json, data, _with_history(data))


@contact_app.command("add")
def contact_add(
    mailbox: Annotated[str, typer.Option("--mailbox", help="Whose address book")],
    email: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option()],
    company: Annotated[str, typer.Option()] = "",
    phone: Annotated[str, typer.Option()] = "",
    as_json: JsonFlag = False,
) -> None:
    """Add a contact; the next sync writes it to the account."""
    with database() as db:
        row = contacts.add(db, OPERATOR, mailbox, email, name, company, phone)
        data = sync_records.view(row)
    emit(as_json, data, f"Added contact {data['id']} ({data['email']}); the next sync writes it.")


@contact_app.command("edit")
def contact_edit(
    contact_id: RowId,
    email: Annotated[str | None, typer.Option()] = None,
    name: Annotated[str | None, typer.Option()] = None,
    company: Annotated[str | None, typer.Option(help='"" clears it')] = None,
    phone: Annotated[str | None, typer.Option(help='"" clears it')] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a contact; the next sync writes it to the account (if the account changed it
    meanwhile, the account's version wins and this one is kept in the history)."""
    change = ContactChange(email=email, name=name, company=company, phone=phone)
    with database() as db:
        data = sync_records.view(contacts.edit(db, OPERATOR, contact_id, change))
    emit(as_json, data, f"Saved contact {data['id']}; the next sync writes it.")


@contact_app.command("remove")
def contact_remove(contact_id: RowId, as_json: JsonFlag = False) -> None:
    """Remove a contact; the next sync deletes it on the account (if the account changed it
    meanwhile, its version is kept and the removal noted in the history)."""
    with database() as db:
        contacts.remove(db, OPERATOR, contact_id)
    emit(
        as_json,
        {"id": contact_id, "removed": True},
        f"Removed contact {contact_id}; the next sync deletes it.",
    )


@activity_app.command("list")
def activity_list(
    mailbox: Mailbox = None, request: RequestId = None, as_json: JsonFlag = False
) -> None:
    """Activities of the mailboxes that sync a calendar, soonest first."""
    with database() as db:
        rows = [sync_records.view(a) for a in activities.listing(db, OPERATOR, mailbox, request)]
    columns = ["id", "start", "end", "title", "request_id", "pending"]
    emit(as_json, rows, table(rows, columns, "No activities."))


@activity_app.command("show")
def activity_show(activity_id: RowId, as_json: JsonFlag = False) -> None:
    """One activity with its history."""
    with database() as db:
        data = sync_records.detail(db, activities.get(db, OPERATOR, activity_id))
    emit(as_json, data, _with_history(data))


@activity_app.command("add")
def activity_add(
    mailbox: Annotated[str, typer.Option("--mailbox", help="Whose calendar")],
    title: Annotated[str, typer.Option()],
    start: Annotated[str, typer.Option(help="ISO 8601, e.g. 2026-12-03T09:00+01:00")],
    end: Annotated[str, typer.Option(help="ISO 8601")],
    request: RequestId = None,
    attendee: Annotated[
        list[str] | None, typer.Option(help="Repeat; default: the request's requester")
    ] = None,
    body: Annotated[str, typer.Option()] = "",
    as_json: JsonFlag = False,
) -> None:
    """Add a follow-up or meeting, linked to a request; the next sync writes it."""
    spec = ActivitySpec(title, start, end, request, attendee, body)
    with database() as db:
        data = sync_records.view(activities.add(db, OPERATOR, mailbox, spec))
    emit(as_json, data, f"Added activity {data['id']}; the next sync writes it.")


@activity_app.command("edit")
def activity_edit(
    activity_id: RowId,
    title: Annotated[str | None, typer.Option()] = None,
    start: Annotated[str | None, typer.Option()] = None,
    end: Annotated[str | None, typer.Option()] = None,
    as_json: JsonFlag = False,
) -> None:
    """Move or rename an activity; the next sync writes it."""
    change = ActivityChange(title=title, start=start, end=end)
    with database() as db:
        data = sync_records.view(activities.edit(db, OPERATOR, activity_id, change))
    emit(as_json, data, f"Saved activity {data['id']}; the next sync writes it.")


@activity_app.command("remove")
def activity_remove(activity_id: RowId, as_json: JsonFlag = False) -> None:
    """Remove an activity; the next sync deletes it in the calendar."""
    with database() as db:
        activities.remove(db, OPERATOR, activity_id)
    emit(
        as_json,
        {"id": activity_id, "removed": True},
        f"Removed activity {activity_id}; the next sync deletes it.",
    )


def _with_history(data: dict[str, object]) -> str:
    shown = {k: v for k, v in data.items() if k != "history"}
    lines = [fields(shown)]
    for entry in data.get("history") or []:  # type: ignore[attr-defined]
        lines.append(f"history  {entry['at']}  {entry['reason']}: {entry['data']}")
    return "\n".join(lines)
