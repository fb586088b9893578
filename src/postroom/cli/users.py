"""postroom user …"""

from __future__ import annotations

from typing import Annotated

import typer

from postroom.cli.context import database
from postroom.cli.output import JsonFlag, emit, read_secret_stdin, table
from postroom.errors import InvalidInput
from postroom.services import present, users
from postroom.services.actors import OPERATOR

app = typer.Typer(help="Users of the console and the API.", no_args_is_help=True)


@app.command()
def add(
    email: str,
    admin: Annotated[bool, typer.Option("--admin", help="Grant manage administration")] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a user; the password is read from standard input."""
    password = read_secret_stdin(password_stdin, "password")
    if password is None:
        raise InvalidInput("Give the password on standard input with --password-stdin.")
    with database() as db:
        data = present.user(users.add(db, OPERATOR, email, password, admin=admin))
    emit(as_json, data, f"Added {'admin' if admin else 'user'} {data['email']}.")


@app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """List users."""
    with database() as db:
        rows = [present.user(u) for u in users.listing(db, OPERATOR)]
    emit(as_json, rows, table(rows, ["email", "admin"], "No users yet."))
