"""postroom doctor: what will stop working and when; exit 1 when something is due."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from postroom.cli.context import ensure_schema
from postroom.cli.output import JsonFlag, emit
from postroom.services import doctor as doctor_service
from postroom.services.actors import OPERATOR
from postroom.storage.db import default_engine


def _text(data: dict[str, Any]) -> str:
    if not data["findings"]:
        return "Nothing will stop working that postroom can see."
    lines = []
    for f in data["findings"]:
        mark = "DUE " if f["due"] else "    "
        when = "now" if f["days_left"] == 0 else f"in {f['days_left']} days ({f['due_at'][:10]})"
        lines += [f"{mark}{f['subject']}: {when}", f"    {f['problem']}", f"    fix: {f['fix']}"]
    lines.append(f"{data['due']} due within {data['within_days']} days.")
    return "\n".join(lines)


def doctor(
    within: Annotated[int, typer.Option("--within", help="Days ahead that count as due")] = 14,
    probe: Annotated[
        bool, typer.Option("--probe/--no-probe", help="Probe the servers' TLS (a few seconds)")
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """What will stop working, per mailbox, connection and server, when, and the fix."""
    ensure_schema()
    report = doctor_service.examine(default_engine(), OPERATOR, within, probe=probe)
    data = report.as_dict()
    emit(as_json, data, _text(data))
    if report.due:
        raise typer.Exit(1)
