"""postroom fetch, request …, held …: inbound mail and the work it became."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from postroom.cli.context import database, listing
from postroom.cli.output import JsonFlag, emit, fields, read_text_file, table
from postroom.cli.params import Limit, RowId
from postroom.errors import InvalidInput
from postroom.services import listings
from postroom.services.actors import OPERATOR
from postroom.storage.db import default_engine

request_app = typer.Typer(help="Requests: the work inbound mail became.", no_args_is_help=True)
held_app = typer.Typer(help="Held messages: kept with their reason.", no_args_is_help=True)


def fetch(
    mailbox: Annotated[str | None, typer.Option(help="Only this mailbox")] = None,
    once: Annotated[bool, typer.Option("--once", help="Fetch what waits, then exit")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Fetch and process everything waiting; exit 1 if any mailbox could not be reached."""
    if not once:
        raise InvalidInput("Say --once: continuous fetching runs inside `postroom serve`.")
    from postroom.services import fetching  # the connectors: not for listing (cli/lazy.py)

    with database():
        pass  # the schema exists before the first batch
    runs = fetching.fetch_once(default_engine(), mailbox)
    rows = [r.as_dict() for r in runs]
    columns = ["mailbox", "ok", "fetched", "opened", "threaded", "held", "duplicates", "error"]
    emit(as_json, rows, table(rows, columns, "No receiving mailboxes."))
    if not all(r.ok for r in runs):
        raise typer.Exit(1)


@request_app.command("list")
def request_list(
    workflow: Annotated[str | None, typer.Option()] = None,
    limit: Limit = 50,
    as_json: JsonFlag = False,
) -> None:
    """List requests, newest first."""
    with listing() as db:
        rows = listings.requests(db, workflow, limit, actor=OPERATOR)
    columns = ["id", "workflow", "step", "subject", "requester", "messages"]
    emit(as_json, rows, table(rows, columns, "No requests yet."))


@request_app.command("reply")
def request_reply(
    request_id: RowId,
    body: Annotated[str | None, typer.Option(help="The reply text")] = None,
    body_file: Annotated[Path | None, typer.Option(help="The reply text, from a file")] = None,
    html_file: Annotated[Path | None, typer.Option(help="An HTML version")] = None,
    sender: Annotated[
        str | None, typer.Option("--from", help="Reply from this mailbox (default: the request's)")
    ] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Repeat-safe submission key")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Reply to a request's latest email, in its thread; the workers send it."""
    text = body if body is not None else read_text_file(body_file, "body")
    if text is None:
        raise InvalidInput("Give the reply with --body TEXT or --body-file FILE.", field="body")
    from postroom.services import present, replies  # the outbound path: see cli/lazy.py

    with database() as db:
        item = replies.reply(
            db,
            OPERATOR,
            request_id,
            body=text,
            html=read_text_file(html_file, "HTML"),
            mailbox=sender,
            idempotency_key=idempotency_key,
        )
        data = present.outbox_item(item)
    emit(as_json, data, f"Queued reply {data['id']} to request #{request_id}.")


@request_app.command("show")
def request_show(request_id: RowId, as_json: JsonFlag = False) -> None:
    """Show a request and its thread."""
    from postroom.services import requests  # the ORM: not for listing (services/listings.py)

    with database() as db:
        data = requests.detail(db, request_id)
    thread = data.pop("thread")
    text = (
        fields(data)
        + "\n\n"
        + table(thread, ["id", "direction", "status", "sender", "subject"], "")
    )
    emit(as_json, data | {"thread": thread}, text)


@request_app.command("history")
def request_history(request_id: RowId, as_json: JsonFlag = False) -> None:
    """A request's history, oldest first: opened, received, moved, replied, acknowledged."""
    from postroom.services import requests

    with database() as db:
        rows = requests.history(db, request_id)
    shown = [
        {"at": r["at"][:19], "what": r["label"], "by": r["actor"], "delivery": r.get("delivery")}
        | (
            {"step": f"{r['details'].get('before')} → {r['details']['step']}"}
            if r["kind"] == "moved"
            else {}
        )
        for r in rows
    ]
    emit(as_json, rows, table(shown, ["at", "what", "by", "step", "delivery"], "Nothing yet."))


@held_app.command("list")
def held_list(
    reason: Annotated[
        str | None, typer.Option(help="e.g. auto-reply, bounce, workflow-inactive")
    ] = None,
    limit: Limit = 100,
    as_json: JsonFlag = False,
) -> None:
    """List held messages with their reasons."""
    with listing() as db:
        rows = listings.held(db, reason, limit, actor=OPERATOR)
    emit(as_json, rows, table(rows, ["id", "reason", "sender", "subject"], "Nothing is held."))


@held_app.command("reprocess")
def held_reprocess(message_id: RowId, as_json: JsonFlag = False) -> None:
    """Route a held message again; it opens or updates its request exactly once."""
    from postroom.services import held

    with database() as db:
        data = held.reprocess(db, OPERATOR, message_id)
    outcome = (
        f"now in request #{data['request']}"
        if data["status"] == "routed"
        else f"still held: {data['reason']}"
    )
    emit(as_json, data, f"Message {message_id} is {outcome}.")


@held_app.command("purge")
def held_purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, delete nothing")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete held mail past its retention (`postroom retention show`); never request mail."""
    from postroom.services import present, retention

    with database():
        pass  # the schema exists before the first batch
    data = present.purge(retention.purge(default_engine(), OPERATOR, dry_run=dry_run))
    verb = "would purge" if dry_run else "purged"
    detail = ", ".join(f"{n} {reason}" for reason, n in data["by_reason"].items())
    emit(as_json, data, f"{verb.capitalize()} {data['purged']} held messages. {detail}".strip())
