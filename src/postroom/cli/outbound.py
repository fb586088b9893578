"""postroom send, outbox …: outbound mail (connections: cli/connections.py)."""

from __future__ import annotations

import mimetypes
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from postroom.cli.context import database, listing
from postroom.cli.output import (
    JsonFlag,
    emit,
    fields,
    read_text_file,
    table,
)
from postroom.cli.params import Limit, RowId
from postroom.domain.outbox import STATES, Filter
from postroom.errors import InvalidInput
from postroom.services import listings
from postroom.services.actors import OPERATOR
from postroom.storage.db import default_engine

if TYPE_CHECKING:  # the composer and the ORM are imported by the commands that use them
    from postroom.outbound.compose import Attachment

outbox_app = typer.Typer(
    help="The outbox: email waiting to be sent, and what became of it.", no_args_is_help=True
)


def _attachment(path: Path) -> Attachment:
    from postroom.outbound.compose import Attachment

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"Cannot read the attachment {path}: {exc}") from exc
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Attachment(filename=path.name, content_type=content_type, data=data)


def send(
    sender: Annotated[str, typer.Option("--from", help="The sending mailbox's address")],
    to: Annotated[list[str], typer.Option("--to", help="A recipient; repeat for more")],
    cc: Annotated[list[str] | None, typer.Option("--cc")] = None,
    bcc: Annotated[list[str] | None, typer.Option("--bcc")] = None,
    subject: Annotated[str, typer.Option()] = "",
    body_file: Annotated[Path | None, typer.Option(help="The text body")] = None,
    html_file: Annotated[Path | None, typer.Option(help="An HTML body")] = None,
    attach: Annotated[list[Path] | None, typer.Option(help="A file to attach; repeat")] = None,
    connection: Annotated[str | None, typer.Option(help="Send through this connection")] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Repeat-safe submission key")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Queue one email; `outbox flush --once` or the workers send it."""
    from postroom.outbound.compose import Draft
    from postroom.services import outbox, present

    draft = Draft(
        sender=sender,
        to=tuple(to),
        cc=tuple(cc or ()),
        bcc=tuple(bcc or ()),
        subject=subject,
        text=read_text_file(body_file, "body") or "",
        html=read_text_file(html_file, "HTML"),
        attachments=tuple(_attachment(p) for p in attach or ()),
    )
    with database() as db:
        data = present.outbox_item(
            outbox.enqueue(
                db, OPERATOR, draft, connection=connection, idempotency_key=idempotency_key
            )
        )
    emit(as_json, data, f"Queued outbox item {data['id']} ({data['message_id']}).")


@outbox_app.command("list")
def outbox_list(
    state: Annotated[str | None, typer.Option(help=", ".join(STATES))] = None,
    mailbox: Annotated[str | None, typer.Option(help="Sent from this mailbox")] = None,
    connection: Annotated[str | None, typer.Option(help="Sent through this connection")] = None,
    recipient: Annotated[str | None, typer.Option(help="A recipient's address, or part")] = None,
    since: Annotated[str | None, typer.Option(help="Queued on or after YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option(help="Queued on or before YYYY-MM-DD")] = None,
    limit: Limit = 100,
    as_json: JsonFlag = False,
) -> None:
    """List outbox items, newest first."""
    narrowed = Filter(
        state, mailbox, connection, recipient, _day(since, "since"), _day(until, "until")
    )
    with listing() as db:
        rows = listings.outbox_items(db, narrowed, limit, actor=OPERATOR)
    shown = [r | {"last_error": r["waiting"] or r["last_error"]} for r in rows]
    emit(
        as_json,
        rows,
        table(
            shown,
            ["id", "state", "sender", "subject", "attempts", "last_error"],
            "The outbox is empty.",
        ),
    )


def _day(value: str | None, what: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        message = f"--{what} {value!r} is not a day: give YYYY-MM-DD."
        raise InvalidInput(message, field=what) from None


@outbox_app.command("show")
def outbox_show(item_id: RowId, as_json: JsonFlag = False) -> None:
    """Show one outbox item and the outcome per recipient."""
    from postroom.services import outbox, present

    with database() as db:
        data = present.outbox_item(outbox.get(db, item_id))
    emit(
        as_json,
        data,
        fields({k: v for k, v in data.items() if k != "recipients"})
        + "\n\n"
        + table(data["recipients"], ["address", "status", "code", "detail"], ""),
    )


@outbox_app.command("flush")
def outbox_flush(
    once: Annotated[bool, typer.Option("--once", help="Send what is due, then exit")] = False,
    retry_now: Annotated[bool, typer.Option("--retry-now", help="Ignore backoff")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Send what is due; exit 1 if a server could not be reached."""
    if not once:
        raise InvalidInput("Say --once: continuous sending runs inside `postroom serve`.")
    with database():
        pass
    from postroom.services import delivery  # the connectors: not for listing (cli/lazy.py)

    result = delivery.flush_once(default_engine(), retry_now=retry_now)
    data = result.as_dict()
    emit(as_json, data, fields(data))
    if result.errors:
        raise typer.Exit(1)


@outbox_app.command("retry")
def outbox_retry(item_id: RowId, as_json: JsonFlag = False) -> None:
    """Queue an uncertain or failed item again (after checking it was not delivered)."""
    from postroom.services import outbox, present

    with database() as db:
        data = present.outbox_item(outbox.retry(db, OPERATOR, item_id))
    emit(as_json, data, f"Outbox item {item_id} is queued again.")


@outbox_app.command("cancel")
def outbox_cancel(item_id: RowId, as_json: JsonFlag = False) -> None:
    """Cancel a queued or deferred item; one already taken by a sender cannot be."""
    from postroom.services import outbox, present

    with database() as db:
        data = present.outbox_item(outbox.cancel(db, OPERATOR, item_id))
    emit(as_json, data, f"Outbox item {item_id} is cancelled: it will not be sent.")
