"""postroom mailbox check | backfill: what the server holds that postroom does not."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from postroom.cli.context import ensure_schema
from postroom.cli.output import JsonFlag, emit
from postroom.errors import InvalidInput
from postroom.services.actors import OPERATOR

SinceOption = typer.Option("--since", help="A date (2026-11-01) or an ISO time, UTC")


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(f"--since {text!r} is not a date: write it as 2026-11-01.") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _check_text(data: dict[str, Any]) -> str:
    lines = [
        f"{data['mailbox']} ({data['folder']}): {data['on_server']} on the server"
        + (f" (the server counts {data['server_count']})" if data["server_count"] else "")
        + f", {data['stored']} of them stored, {data['waiting']} waiting for the next fetch.",
    ]
    if data["missing"]:
        lines.append(f"Missing since {data['since'][:10]}: {data['missing']}")
        lines += [f"  {key}" for key in data["missing_keys"]]
        lines.append(f"Take them with: postroom mailbox backfill {data['mailbox']} --since DATE")
    else:
        lines.append(f"Nothing missing since {data['since'][:10]}.")
    if data["older"]:
        lines.append(f"({data['older']} older ones not stored: give --since to look further back)")
    return "\n".join(lines)


def check(
    address: str,
    since: Annotated[str | None, SinceOption] = None,
    as_json: JsonFlag = False,
) -> None:
    """Compare the server with what postroom stored; exit 1 when mail is missing."""
    ensure_schema()
    from postroom.services import gaps  # the connectors: only when the command runs
    from postroom.storage.db import default_engine

    report = gaps.check(default_engine(), OPERATOR, address, _since(since))
    data = report.as_dict()
    emit(as_json, data, _check_text(data))
    if report.missing:
        raise typer.Exit(1)


def backfill(
    address: str,
    since: Annotated[str, SinceOption],
    as_json: JsonFlag = False,
) -> None:
    """Take the missing mail that arrived since DATE, through the normal pipeline."""
    ensure_schema()
    moment = _since(since)
    assert moment is not None
    from postroom.services import gaps
    from postroom.storage.db import default_engine

    data = gaps.backfill(default_engine(), OPERATOR, address, moment).as_dict()
    emit(
        as_json,
        data,
        f"Took {data['taken']} of {data['missing']} missing: {data['opened']} opened, "
        f"{data['threaded']} joined a request, {data['held']} held.",
    )
