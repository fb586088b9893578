"""`postroom mailbox import FILE`: many mailboxes in one call, all or nothing, each row checked
as `mailbox add` checks it; a bad row is named by its line and nothing is added."""

from __future__ import annotations

import json
import re
from pathlib import Path

from postroom.cli.main import Commands
from postroom.services import mailboxes
from postroom.services.actors import OPERATOR
from postroom.storage.db import unit_of_work
from tests.conftest import Cli


def _servers(cli: Cli) -> None:
    for args in (
        ("in", "--protocol", "imap", "--host", "imap.example.test"),
        ("out", "--protocol", "smtp", "--host", "smtp.example.test"),
    ):
        assert cli("server", "add", *args).code == 0
    assert cli("workflow", "add", "Support", "--steps", "New,Done").code == 0


def _addresses(cli: Cli) -> list[str]:
    result = cli("mailbox", "list", "--json")
    assert result.code == 0, result.stderr
    return sorted(m["address"] for m in json.loads(result.stdout))


def _password(address: str) -> str | None:
    with unit_of_work() as db:
        return mailboxes.password_of(mailboxes.get_for(db, OPERATOR, address))


def test_a_csv_file_adds_every_row_with_its_password_from_a_column_or_a_file(
    cli: Cli, tmp_path: Path
) -> None:
    _servers(cli)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "sales.txt").write_text("sales-secret\n")
    (tmp_path / "boxes.csv").write_text(
        "address,incoming,outgoing,password,password-file,workflow,after-import,name\n"
        "desk@example.test,in,out,desk-secret,,Support,keep,Front desk\n"
        "sales@example.test,in,,,secrets/sales.txt,,,\n"
        "\n"
        "out@example.test,,out,out-secret,,,,\n"
    )
    result = cli("mailbox", "import", str(tmp_path / "boxes.csv"), "--json")
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["added"] == 3
    desk = next(m for m in report["mailboxes"] if m["address"] == "desk@example.test")
    assert (desk["kind"], desk["workflow"], desk["after_import"]) == ("system", "Support", "keep")
    assert "desk-secret" not in result.stdout  # passwords never leave the process
    assert _addresses(cli) == ["desk@example.test", "out@example.test", "sales@example.test"]
    assert _password("desk@example.test") == "desk-secret"
    assert _password("sales@example.test") == "sales-secret"


def test_json_lines_on_standard_input_are_read_the_same(cli: Cli) -> None:
    _servers(cli)
    lines = [
        {"address": "a@example.test", "incoming": "in", "password": "a-secret"},
        {"address": "b@example.test", "incoming": "in", "password": "b-secret", "folder": "Work"},
    ]
    result = cli("mailbox", "import", "-", input="\n".join(json.dumps(x) for x in lines) + "\n")
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "Added 2 mailboxes."
    assert _addresses(cli) == ["a@example.test", "b@example.test"]


def test_bad_rows_are_named_by_line_and_nothing_is_added(cli: Cli, tmp_path: Path) -> None:
    _servers(cli)
    cli("mailbox", "add", "taken@example.test", "--incoming", "in", "--password-stdin", input="x\n")
    (tmp_path / "boxes.csv").write_text(
        "address,incoming,password,poll_interval\n"
        "good@example.test,in,secret,60\n"  # line 2: fine, and still not added
        "not-an-address,in,secret,60\n"  # line 3
        "nopassword@example.test,in,,60\n"  # line 4
        "taken@example.test,in,secret,60\n"  # line 5: already there
        "slow@example.test,nosuch,secret,60\n"  # line 6
        "often@example.test,in,secret,soon\n"  # line 7
        "fine@example.test,in,secret,60\n"
    )
    result = cli("mailbox", "import", str(tmp_path / "boxes.csv"))
    assert result.code == 1
    assert len(result.stderr.splitlines()) == 1  # one line, as every CLI error
    named = re.findall(r"line \d+(?=:)", result.stderr)
    assert named == ["line 3", "line 4", "line 5", "line 6", "line 7"]
    assert "nothing was added" in result.stderr
    assert _addresses(cli) == ["taken@example.test"]


def test_json_output_of_a_refused_import_carries_the_lines(cli: Cli, tmp_path: Path) -> None:
    _servers(cli)
    (tmp_path / "boxes.jsonl").write_text(
        '{"address": "a@example.test", "incoming": "in", "password": "s"}\nnot json\n'
    )
    result = cli("mailbox", "import", str(tmp_path / "boxes.jsonl"), "--json")
    assert result.code == 1
    error = json.loads(result.stderr)
    assert error["error"] == "rows-rejected"
    assert "line 2: not JSON" in error["message"]
    assert _addresses(cli) == []


def test_passwords_are_never_arguments_of_the_import() -> None:
    command = Commands.lazy["mailbox"].load("mailbox")
    importer = command.commands["import"]  # type: ignore[attr-defined]
    assert sorted(p.name for p in importer.params) == ["as_json", "file"]
