"""Setting up OAuth apps, cloud servers and signed-in mailboxes the way an admin would."""

from __future__ import annotations

import json
from typing import Any

from tests.cloud_fixtures import CLIENT_ID, CLIENT_SECRET, GOOGLE_ID
from tests.conftest import Cli
from tests.servers.gmail import GmailServer
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer


def ok(cli: Cli, *args: str, input: str | None = None) -> Any:
    result = cli(*args, "--json", input=input)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def add_apps(cli: Cli) -> None:
    ok(
        cli,
        "oauth-app",
        "add",
        "m365",
        "--provider",
        "microsoft",
        "--client-id",
        CLIENT_ID,
        "--tenant",
        "contoso",
        "--client-secret-stdin",
        input=CLIENT_SECRET,
    )
    ok(
        cli,
        "oauth-app",
        "add",
        "google",
        "--provider",
        "google",
        "--client-id",
        GOOGLE_ID,
        "--client-secret-stdin",
        input=CLIENT_SECRET,
    )


def add_cloud_servers(cli: Cli, graph: GraphServer | None, gmail: GmailServer | None) -> None:
    for name, server, protocol in (("graph", graph, "graph"), ("gmail", gmail, "gmail")):
        if server is not None:
            ok(
                cli,
                "server",
                "add",
                name,
                "--protocol",
                protocol,
                "--host",
                "127.0.0.1",
                "--port",
                str(server.http.port),
            )


def connect(
    cli: Cli, identity: IdentityServer, address: str, app: str = "m365", *extra: str
) -> Any:
    """The device flow, with the local identity server's user signing in as `address`."""
    identity.sign_in_as = address
    return ok(cli, "mailbox", "connect", address, "--oauth-app", app, *extra)
