"""postroom oauth-app …"""

from __future__ import annotations

from typing import Annotated

import typer

from postroom.cli.context import database, listing
from postroom.cli.output import JsonFlag, emit, fields, read_secret_stdin, table
from postroom.services import listings
from postroom.services.actors import OPERATOR

app = typer.Typer(help="OAuth apps: registered OAuth2 clients.", no_args_is_help=True)


@app.command()
def add(
    name: str,
    provider: Annotated[str, typer.Option(help="microsoft, google or generic")],
    client_id: Annotated[str, typer.Option()],
    tenant: Annotated[str | None, typer.Option()] = None,
    client_secret_stdin: Annotated[bool, typer.Option("--client-secret-stdin")] = False,
    authorize_url: Annotated[str | None, typer.Option()] = None,
    token_url: Annotated[str | None, typer.Option()] = None,
    scopes: Annotated[str | None, typer.Option()] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register an OAuth app; the client secret is read from standard input."""
    from postroom.services import oauth_apps, present

    spec = oauth_apps.OAuthAppSpec(
        name=name,
        provider=provider,
        client_id=client_id,
        tenant=tenant,
        client_secret=read_secret_stdin(client_secret_stdin, "client-secret"),
        authorize_url=authorize_url,
        token_url=token_url,
        scopes=scopes,
    )
    with database() as db:
        data = present.oauth_app(oauth_apps.add(db, OPERATOR, spec))
    emit(as_json, data, f"Added OAuth app {data['name']} ({data['provider']}).")


@app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """List OAuth apps."""
    with listing() as db:
        rows = listings.oauth_apps(db)
    emit(
        as_json,
        rows,
        table(rows, ["name", "provider", "tenant", "client_id"], "No OAuth apps yet."),
    )


@app.command()
def show(name: str, as_json: JsonFlag = False) -> None:
    """Show one OAuth app (the client secret is never shown)."""
    with listing() as db:
        data = listings.oauth_app(db, name)
    emit(as_json, data, fields(data))


@app.command()
def remove(name: str, as_json: JsonFlag = False) -> None:
    """Remove an OAuth app; refused while mailboxes use it."""
    from postroom.services import oauth_apps

    with database() as db:
        oauth_apps.remove(db, OPERATOR, name)
    emit(as_json, {"removed": name}, f"Removed OAuth app {name}.")
