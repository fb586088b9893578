"""Small steps the connection tests share: add a server and a mailbox through the CLI."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.conftest import Cli
from tests.servers.dovecot import Dovecot


def add_server(cli: Cli, name: str, protocol: str, port: int, security: str, *extra: str) -> None:
    result = cli(
        "server",
        "add",
        name,
        "--protocol",
        protocol,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--security",
        security,
        *extra,
    )
    assert result.code == 0, result.stderr


def add_mailbox(cli: Cli, address: str, password: str, *servers: str) -> None:
    result = cli("mailbox", "add", address, *servers, "--password-stdin", input=password + "\n")
    assert result.code == 0, result.stderr


def cli_json(cli: Cli, *args: str, input: str | None = None) -> tuple[int, Any]:
    result = cli(*args, "--json", input=input)
    return result.code, json.loads(result.stdout)


def steps(report: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(s["name"], s["ok"]) for s in report["steps"]]


def add_desk(
    cli: Cli,
    dovecot: Dovecot,
    protocol: str,
    port: int,
    *mailbox_args: str,
    server_args: tuple[str, ...] = (),
) -> str:
    """A fresh Dovecot user as a system mailbox tied to the workflow New -> Triage -> Done."""
    user = f"desk-{uuid.uuid4().hex[:8]}@example.test"
    dovecot.add_user(user, "desk-pass-1")
    assert cli("workflow", "add", "Support", "--steps", "New,Triage,Done").code == 0
    add_server(cli, "in", protocol, port, "none", *server_args)
    added = cli(
        "mailbox",
        "add",
        user,
        "--incoming",
        "in",
        "--workflow",
        "Support",
        "--password-stdin",
        *mailbox_args,
        input="desk-pass-1\n",
    )
    assert added.code == 0, added.stderr
    return user
