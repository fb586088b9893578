"""postroom connection …: named outbound routes that processes pick by name."""

from __future__ import annotations

from typing import Annotated

import typer

from postroom.cli.context import database, listing
from postroom.cli.output import JsonFlag, emit, fields, report_text, reports_json, table
from postroom.errors import InvalidInput
from postroom.services import listings
from postroom.services.actors import OPERATOR

connection_app = typer.Typer(help="Connections: named outbound routes.", no_args_is_help=True)


@connection_app.command("add")
def connection_add(
    name: str,
    mailbox: Annotated[str, typer.Option(help="The sending mailbox")],
    security: Annotated[
        str | None, typer.Option(help="tls or starttls; default: the server's")
    ] = None,
    connect_timeout: Annotated[float | None, typer.Option(help="Seconds; blank for none")] = None,
    send_timeout: Annotated[float | None, typer.Option(help="Seconds; blank for none")] = None,
    auth: Annotated[
        str, typer.Option(help="basic, oauth2, or none for a relay that needs no login")
    ] = "basic",
    action_base_url: Annotated[str | None, typer.Option(help="Base for links in bodies")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a named outbound connection."""
    from postroom.services import connections, present

    spec = connections.ConnectionSpec(
        name, mailbox, security, connect_timeout, send_timeout, auth, action_base_url
    )
    with database() as db:
        data = present.connection(connections.add(db, OPERATOR, spec))
    emit(as_json, data, f"Added connection {data['name']} through {data['mailbox']}.")


def _timeout(value: str, what: str) -> float | None:
    """`none` clears a timeout (the seed's blank); anything else must be seconds."""
    if value.strip().lower() in ("", "none"):
        return None
    try:
        return float(value)
    except ValueError:
        raise InvalidInput(
            f"The {what} {value!r} is not a number of seconds: give seconds, or none.",
            field=what,
        ) from None


@connection_app.command("edit")
def connection_edit(
    name: str,
    new_name: Annotated[str | None, typer.Option("--name", help="A new name")] = None,
    mailbox: Annotated[str | None, typer.Option(help="The sending mailbox")] = None,
    security: Annotated[str | None, typer.Option(help="tls or starttls")] = None,
    connect_timeout: Annotated[
        str | None, typer.Option(help="Seconds, or none for no timeout")
    ] = None,
    send_timeout: Annotated[
        str | None, typer.Option(help="Seconds, or none for no timeout")
    ] = None,
    auth: Annotated[str | None, typer.Option(help="basic, oauth2 or none")] = None,
    action_base_url: Annotated[
        str | None, typer.Option(help="Base for links in bodies; none clears it")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a connection; only the options given change."""
    from postroom.services import connections, present

    changes: dict[str, object] = {
        k: v
        for k, v in {
            "name": new_name,
            "mailbox": mailbox,
            "security": security,
            "auth": auth,
        }.items()
        if v is not None
    }
    if connect_timeout is not None:
        changes["connect_timeout"] = _timeout(connect_timeout, "connect timeout")
    if send_timeout is not None:
        changes["send_timeout"] = _timeout(send_timeout, "send timeout")
    if action_base_url is not None:
        changes["action_base_url"] = None if action_base_url.lower() == "none" else action_base_url
    with database() as db:
        data = present.connection(connections.update(db, OPERATOR, name, changes))
    emit(as_json, data, f"Saved connection {data['name']}.")


@connection_app.command("test")
def connection_test(name: str, as_json: JsonFlag = False) -> None:
    """Test the connection step by step as it sends (connect, TLS, sign-in, envelope);
    exit 1 when a step fails."""
    from postroom.services import connection_tests

    report = connection_tests.check_connection(OPERATOR, name)
    reports = [(name, report)]
    emit(as_json, reports_json(reports), report_text(f"connection {name}", report))
    if not report.ok:
        raise typer.Exit(1)


@connection_app.command("list")
def connection_list(as_json: JsonFlag = False) -> None:
    """List connections."""
    with listing() as db:
        rows = listings.connections(db)
    emit(as_json, rows, table(rows, ["name", "mailbox", "security", "auth"], "No connections yet."))


@connection_app.command("show")
def connection_show(name: str, as_json: JsonFlag = False) -> None:
    """Show one connection."""
    from postroom.services import connections, present

    with database() as db:
        data = present.connection(connections.get(db, name))
    emit(as_json, data, fields(data))


@connection_app.command("remove")
def connection_remove(name: str, as_json: JsonFlag = False) -> None:
    """Remove a connection."""
    from postroom.services import connections

    with database() as db:
        connections.remove(db, OPERATOR, name)
    emit(as_json, {"removed": name}, f"Removed connection {name}.")
