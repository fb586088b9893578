"""Small steps the connection tests share: add a server and a mailbox through the CLI."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Cli


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
