"""postroom retention …: how long held mail of each reason is kept."""

from __future__ import annotations

import typer

from postroom.cli.context import database
from postroom.cli.output import JsonFlag, emit, table
from postroom.cli.params import Days
from postroom.services import present, retention
from postroom.services.actors import OPERATOR

app = typer.Typer(help="How long held mail is kept, by reason.", no_args_is_help=True)


def _days(value: int | None) -> str:
    return "kept until a person acts" if value is None else f"{value} days"


@app.command()
def show(as_json: JsonFlag = False) -> None:
    """Each held reason and how long its mail is kept."""
    with database() as db:
        rows = [present.retention(v) for v in retention.listing(db)]
    lines = [r | {"keep": _days(r["days"]), "default": _days(r["default_days"])} for r in rows]
    emit(as_json, rows, table(lines, ["reason", "kind", "keep", "default"], ""))


@app.command("set")
def set_days(reason: str, days: Days, as_json: JsonFlag = False) -> None:
    """Keep held mail of REASON for DAYS days after it arrived, then purge it."""
    with database() as db:
        data = present.retention(retention.set_days(db, OPERATOR, reason, days))
    emit(as_json, data, f"Held {data['reason']} mail is kept {days} days.")


@app.command()
def off(reason: str, as_json: JsonFlag = False) -> None:
    """Keep held mail of REASON until a person acts on it."""
    with database() as db:
        data = present.retention(retention.set_days(db, OPERATOR, reason, None))
    emit(as_json, data, f"Held {data['reason']} mail is kept until a person acts on it.")
