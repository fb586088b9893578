"""`postroom user …` administers users through the same service as the console and the API:
each change shows in `user show`, refusals exit non-zero with one line and change nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from postroom.errors import NotSignedIn
from postroom.services import auth
from postroom.storage.db import default_engine
from tests.conftest import Cli


def ok(cli: Cli, *args: str, input: str | None = None) -> Any:
    result = cli(*args, "--json", input=input)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def refused(cli: Cli, *args: str) -> str:
    result = cli(*args)
    assert result.code != 0 and result.stdout == ""
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    return result.stderr


def test_each_user_command_changes_what_user_show_tells(cli: Cli) -> None:
    ok(
        cli,
        "user",
        "add",
        "root@example.test",
        "--admin",
        "--password-stdin",
        input="root-pass-1\n",
    )
    ok(cli, "user", "add", "ann@example.test", "--password-stdin", input="ann-pass-1\n")
    ok(cli, "workflow", "add", "Support", "--steps", "New,Done")
    ok(cli, "workflow", "add", "Sales", "--steps", "New,Done")

    assert ok(cli, "user", "disable", "ann@example.test")["disabled"] is True
    assert "last administrator" in refused(cli, "user", "disable", "root@example.test")
    with pytest.raises(NotSignedIn, match="disabled"):
        auth.sign_in(default_engine(), "ann@example.test", "ann-pass-1", "cli")
    assert ok(cli, "user", "enable", "ann@example.test")["disabled"] is False

    assert ok(cli, "user", "role", "ann@example.test", "admin")["admin"] is True
    assert ok(cli, "user", "role", "root@example.test", "user")["admin"] is False
    assert "last administrator" in refused(cli, "user", "role", "ann@example.test", "user")
    assert "admin or user" in refused(cli, "user", "role", "ann@example.test", "boss")

    given = ok(cli, "user", "workflows", "root@example.test", "--set", "Sales,Support")
    assert given["workflows"] == ["Sales", "Support"]
    assert ok(cli, "user", "workflows", "root@example.test", "--set", "")["workflows"] == []

    issued = ok(cli, "user", "password", "root@example.test", "--reset")
    assert issued["must_change_password"] is True
    signed = auth.sign_in(default_engine(), "root@example.test", issued["password"], "cli")
    assert signed.must_change_password
    ok(
        cli,
        "user",
        "password",
        "root@example.test",
        "--password-stdin",
        "--no-must-change",
        input="root-pass-2\n",
    )
    assert not auth.sign_in(
        default_engine(), "root@example.test", "root-pass-2", "cli"
    ).must_change_password
    assert "either" in refused(cli, "user", "password", "root@example.test")

    assert "reason" in refused(cli, "user", "remove", "root@example.test", "--reason", " ")
    assert "Choose what happens" in refused(
        cli, "user", "remove", "root@example.test", "--reason", "left", "--mailboxes", "keep"
    )
    done = ok(cli, "user", "remove", "root@example.test", "--reason", "left")
    assert done == {
        "email": "root@example.test",
        "removed": True,
        "mailboxes": "remove",
        "to": None,
    }
    assert [u["email"] for u in ok(cli, "user", "list")] == ["ann@example.test"]
    assert "No user" in refused(cli, "user", "show", "root@example.test")
