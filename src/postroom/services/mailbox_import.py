"""Many mailboxes at once, from a CSV or JSON-lines file (the CLI) or one list (the API).

All or nothing: the rows are added in one transaction, each exactly as `mailbox add` would add
it; if any row is wrong, nothing is added and every wrong row is reported with its line, so a
file is fixed in one pass and run again (DESIGN's CLI contract: a bad row changes nothing).
Passwords come from a `password` column or a `password_file` column naming a file, never from
command-line arguments; they are sealed like any mailbox password, never hashed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from postroom.errors import InvalidInput, PostroomError, RowsRejected
from postroom.services import audit
from postroom.services.actors import Actor
from postroom.services.mailboxes import MailboxSpec, add
from postroom.storage.models import Mailbox

MAX_ROWS = 10_000
SPEC_FIELDS = {f.name for f in fields(MailboxSpec)}
ALIASES = {"name": "display_name"}  # the CLI's --name
BOOLEAN_FIELDS = {"system", "default"}
TRUE, FALSE = {"1", "true", "yes", "y"}, {"", "0", "false", "no", "n"}


@dataclass(frozen=True)
class Row:
    line: int  # in the file; for the API, the position in the list from 1
    spec: MailboxSpec | None
    error: str | None = None


def read(text: str, *, base: Path | None = None) -> list[Row]:
    """CSV with a header line, or JSON lines (one object a line): told apart by the first
    character. `password_file` is read relative to `base` (the import file's folder)."""
    stripped = text.lstrip()
    reader = _json_lines if stripped.startswith("{") else _csv_rows
    rows = [_row(line, values, base) for line, values in reader(text)]
    if not rows:
        raise InvalidInput("The file holds no mailboxes.")
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"At most {MAX_ROWS} mailboxes an import: split the file.")
    return rows


def _csv_rows(text: str) -> Iterable[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text))
    for values in reader:
        if not any((v or "").strip() for v in values.values() if isinstance(v, str)):
            continue  # a blank line
        yield reader.line_num, values


def _json_lines(text: str) -> Iterable[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values = json.loads(line)
        except json.JSONDecodeError as exc:
            values = {"__error__": f"not JSON: {exc.msg}"}
        if not isinstance(values, dict):
            values = {"__error__": "not a JSON object"}
        yield number, values


def _row(line: int, values: dict[str, Any], base: Path | None) -> Row:
    try:
        return Row(line, spec_of(values, base))
    except PostroomError as exc:
        return Row(line, None, str(exc))


def spec_of(values: dict[str, Any], base: Path | None = None) -> MailboxSpec:
    """One row's fields, named as `mailbox add` names them (dashes or underscores)."""
    if "__error__" in values:
        raise InvalidInput(str(values["__error__"]))
    if None in values:  # csv.DictReader puts cells beyond the header there
        raise InvalidInput("more cells than the header names")
    given: dict[str, Any] = {}
    for key, value in values.items():
        name = str(key).strip().lower().replace("-", "_")
        name = ALIASES.get(name, name)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            continue
        if name == "password_file":
            given["password"] = _password_from(Path(str(value)), base)
        elif name not in SPEC_FIELDS:
            raise InvalidInput(f"unknown column {key!r}")
        else:
            given[name] = _typed(name, value)
    if not given.get("address"):
        raise InvalidInput("no address")
    if not given.get("system") and not given.get("owner"):
        given["system"] = True  # as `mailbox add`: the operator adds system mailboxes
    return MailboxSpec(**given)


def _typed(name: str, value: Any) -> Any:
    if name in BOOLEAN_FIELDS:
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text not in TRUE | FALSE:
            raise InvalidInput(f"{name} is {value!r}: write true or false")
        return text in TRUE
    if name == "poll_interval":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"poll_interval is {value!r}: write a number of seconds") from None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text")
    return value


def _password_from(path: Path, base: Path | None) -> str:
    full = path if path.is_absolute() or base is None else base / path
    try:
        password = full.read_text(encoding="utf-8").splitlines()[0]
    except (OSError, UnicodeDecodeError, IndexError):
        raise InvalidInput(f"cannot read a password from {path}") from None
    if not password:
        raise InvalidInput(f"the password file {path} starts with an empty line")
    return password


def add_all(db: Session, actor: Actor, rows: Sequence[Row], unit: str = "line") -> list[Mailbox]:
    """Every row through `mailboxes.add`; any refused row: RowsRejected, and the caller's
    transaction rolls back, so nothing is added. Later rows are still checked, so every wrong
    row is reported at once. No savepoint a row (they cost a quarter of the time): `add` checks
    everything before it writes, and a refused import keeps nothing whatever a row left."""
    rejected = [(row.line, row.error) for row in rows if row.error is not None]
    added: list[Mailbox] = []
    # `add` flushes once for the new row's id (its password is sealed to it); its audit entry
    # and password wait for the next row's flush instead of a flush of their own.
    with db.no_autoflush:
        for row in rows:
            if row.spec is None:
                continue
            try:
                added.append(add(db, actor, row.spec))
            except PostroomError as exc:
                rejected.append((row.line, str(exc)))
    if rejected:
        raise RowsRejected(sorted(rejected), unit)
    audit.record(db, actor, "mailbox.imported", f"{len(added)} mailboxes", count=len(added))
    return added
