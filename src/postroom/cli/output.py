"""How the CLI speaks: --json for scripts, short lines for people, errors on stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from postroom.errors import InvalidInput

if TYPE_CHECKING:  # every command imports this module: it stays light (see cli/lazy.py)
    from postroom.connectors.test_connection import Report

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def emit(as_json: bool, data: Any, text: str | None = None) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    elif text is not None:
        sys.stdout.write(text.rstrip("\n") + "\n")


def table(rows: list[dict[str, Any]], columns: list[str], empty: str) -> str:
    if not rows:
        return empty
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def fields(data: dict[str, Any]) -> str:
    width = max(len(k) for k in data)
    return "\n".join(f"{k.ljust(width)}  {'' if v is None else v}" for k, v in data.items())


def report_text(title: str, report: Report) -> str:
    lines = [f"{title}: {report.target}"]
    for step in report.steps:
        mark = "ok  " if step.ok else "FAIL"
        lines.append(f"  {mark} {step.name:<9} {step.seconds * 1000:7.1f} ms  {step.detail}")
        if step.hint:
            lines.append(f"       -> {step.hint}")
    lines.append("  passed" if report.ok else "  failed")
    return "\n".join(lines)


def reports_json(reports: list[tuple[str, Report]]) -> dict[str, Any]:
    from postroom.services import present

    return present.reports(reports)


def read_secret_stdin(flag: bool, what: str) -> str | None:
    """Secrets come on stdin only, never as arguments that land in shell history or `ps`."""
    if not flag:
        return None
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise InvalidInput(f"--{what}-stdin was given but standard input was empty.", field=what)
    return value


def read_text_file(path: Path | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Cannot read the {what} file {path}: {exc}") from exc
