"""postroom server …"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

import typer

from postroom.cli.context import database, listing
from postroom.cli.output import JsonFlag, emit, fields, report_text, table
from postroom.domain.settings import DEFAULT_MAX_CONNECTIONS
from postroom.services import listings
from postroom.services.actors import OPERATOR

app = typer.Typer(help="Mail servers: where mail lives and how to reach it.", no_args_is_help=True)
SendRate = Annotated[
    str | None,
    typer.Option(
        help="Per sending mailbox, e.g. 30/min or 2000/day; none: no limit. "
        "Default: the provider's documented limit (Microsoft 365, Gmail), else none"
    ),
]
RecipientsPerDay = Annotated[
    int | None,
    typer.Option(help="Per sending mailbox in any 24 hours; 0: no limit. Default: the provider's"),
]


@app.command()
def add(
    name: str,
    protocol: Annotated[str, typer.Option(help="imap, pop3, smtp, graph or gmail")],
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[
        int | None, typer.Option(help="Default: the protocol's port for the security")
    ] = None,
    security: Annotated[str, typer.Option(help="tls, starttls or none")] = "tls",
    connect_timeout: Annotated[float | None, typer.Option(help="Seconds")] = 15.0,
    timeout: Annotated[float | None, typer.Option(help="Seconds for each operation")] = 60.0,
    login_format: Annotated[str, typer.Option(help="address, local-part or custom")] = "address",
    no_verify_tls: Annotated[
        bool, typer.Option("--no-verify-tls", help="For lab servers only")
    ] = False,
    provider_domain: Annotated[
        list[str] | None, typer.Option(help="Domains this server serves")
    ] = None,
    max_connections: Annotated[
        int, typer.Option(help="Connections a worker may hold for one login (IDLE + fetches)")
    ] = DEFAULT_MAX_CONNECTIONS,
    send_rate: SendRate = None,
    recipients_per_day: RecipientsPerDay = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a server."""
    from postroom.services import present, servers

    spec = servers.ServerSpec(
        name=name,
        protocol=protocol,
        host=host,
        port=port,
        security=security,
        connect_timeout=connect_timeout,
        timeout=timeout,
        login_format=login_format,
        verify_tls=not no_verify_tls,
        provider_domains=tuple(provider_domain or ()),
        max_connections=max_connections,
        send_rate=send_rate,
        recipients_per_day=recipients_per_day,
    )
    with database() as db:
        data = present.server(servers.add(db, OPERATOR, spec))
    emit(
        as_json,
        data,
        f"Added server {data['name']} ({data['protocol']} {data['host']}:{data['port']}).",
    )


@app.command()
def edit(
    name: str,
    new_name: Annotated[str | None, typer.Option("--name", help="Rename the server")] = None,
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    security: Annotated[str | None, typer.Option(help="tls, starttls or none")] = None,
    connect_timeout: Annotated[float | None, typer.Option(help="Seconds")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds for each operation")] = None,
    login_format: Annotated[str | None, typer.Option()] = None,
    verify_tls: Annotated[bool | None, typer.Option("--verify-tls/--no-verify-tls")] = None,
    send_rate: SendRate = None,
    recipients_per_day: RecipientsPerDay = None,
    max_connections: Annotated[
        int | None,
        typer.Option(help="Connections a worker may hold for one login (IDLE + fetches)"),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a server; what is not given stays as it is."""
    from postroom.services import present, servers

    given: dict[str, Any] = {
        "name": new_name,
        "host": host,
        "port": port,
        "security": security,
        "connect_timeout": connect_timeout,
        "timeout": timeout,
        "login_format": login_format,
        "verify_tls": verify_tls,
        "send_rate": send_rate,
        "recipients_per_day": recipients_per_day,
        "max_connections": max_connections,
    }
    with database() as db:
        spec = replace(
            servers.spec_of(servers.get(db, name)),
            **{k: v for k, v in given.items() if v is not None},
        )
        data = present.server(servers.update(db, OPERATOR, name, spec))
    emit(as_json, data, f"Changed server {data['name']}.")


@app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """List servers."""
    with listing() as db:
        rows = listings.servers(db)
    columns = ["name", "protocol", "host", "port", "security", "login_format"]
    emit(as_json, rows, table(rows, columns, "No servers yet: add one with `postroom server add`."))


@app.command()
def show(name: str, as_json: JsonFlag = False) -> None:
    """Show one server and the mailboxes that use it."""
    from postroom.services import present, servers

    with database() as db:
        server = servers.get(db, name)
        data = present.server(server) | {
            "mailboxes": [m.address for m in servers.users_of(db, server)]
        }
    emit(as_json, data, fields(data))


@app.command()
def test(name: str, as_json: JsonFlag = False) -> None:
    """Test reaching a server step by step (no sign-in: `mailbox test` signs in)."""
    from postroom.services import connection_tests  # network code: see cli/lazy.py

    report = connection_tests.check_server(OPERATOR, name)
    emit(as_json, report.as_dict(), report_text(f"server {name}", report))
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def remove(name: str, as_json: JsonFlag = False) -> None:
    """Remove a server no mailbox uses."""
    from postroom.services import servers

    with database() as db:
        servers.remove(db, OPERATOR, name)
    emit(as_json, {"removed": name}, f"Removed server {name}.")
