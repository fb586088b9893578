"""postroom user …"""

from __future__ import annotations

from typing import Annotated

import typer

from postroom.cli.context import database, listing
from postroom.cli.output import JsonFlag, emit, fields, read_secret_stdin, table
from postroom.errors import InvalidInput
from postroom.services import listings
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
    from postroom.services import present, users

    password = read_secret_stdin(password_stdin, "password")
    if password is None:
        raise InvalidInput("Give the password on standard input with --password-stdin.")
    with database() as db:
        data = present.user(users.add(db, OPERATOR, email, password, admin=admin))
    emit(as_json, data, f"Added {'admin' if admin else 'user'} {data['email']}.")


@app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """List users."""
    with listing() as db:
        rows = listings.users(db, OPERATOR)
    emit(as_json, rows, table(rows, ["email", "admin", "disabled"], "No users yet."))


@app.command()
def show(email: str, as_json: JsonFlag = False) -> None:
    """Show a user: role, state, workflows and personal mailboxes."""
    from postroom.services import user_admin

    with database() as db:
        data = user_admin.detail(db, OPERATOR, email)
    emit(as_json, data, fields(data))


@app.command()
def disable(email: str, as_json: JsonFlag = False) -> None:
    """Disable a user: no sign-in, API tokens refused, console sessions ended."""
    from postroom.services import present, user_admin

    with database() as db:
        data = present.user(user_admin.disable(db, OPERATOR, email))
    emit(as_json, data, f"Disabled {data['email']}.")


@app.command()
def enable(email: str, as_json: JsonFlag = False) -> None:
    """Enable a disabled user again."""
    from postroom.services import present, user_admin

    with database() as db:
        data = present.user(user_admin.enable(db, OPERATOR, email))
    emit(as_json, data, f"Enabled {data['email']}.")


@app.command()
def role(
    email: str,
    chosen: Annotated[str, typer.Argument(metavar="admin|user", help="The new role")],
    as_json: JsonFlag = False,
) -> None:
    """Make a user an administrator, or a user; the last administrator stays one."""
    from postroom.services import present, user_admin

    if chosen not in ("admin", "user"):
        raise InvalidInput(f"Unknown role {chosen!r}: choose admin or user.", field="role")
    with database() as db:
        data = present.user(user_admin.set_role(db, OPERATOR, email, admin=chosen == "admin"))
    emit(as_json, data, f"{data['email']} is now {'an admin' if data['admin'] else 'a user'}.")


@app.command()
def password(
    email: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    reset: Annotated[
        bool, typer.Option("--reset", help="Make a one-time password and print it")
    ] = False,
    must_change: Annotated[
        bool, typer.Option("--must-change/--no-must-change", help="Ask for a new one at sign-in")
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Set a user's password (from standard input) or issue a one-time one with --reset."""
    from postroom.services import present, user_admin

    if reset == password_stdin:
        raise InvalidInput("Give either --password-stdin or --reset.")
    with database() as db:
        if reset:
            issued = user_admin.issue_reset(db, OPERATOR, email)
            data = present.user(issued.user) | {"password": issued.password}
            text = f"One-time password for {data['email']} (changed at sign-in): {issued.password}"
        else:
            given = read_secret_stdin(True, "password") or ""
            user = user_admin.set_password(db, OPERATOR, email, given, must_change=must_change)
            data = present.user(user)
            text = f"Set the password of {data['email']}."
    emit(as_json, data, text)


@app.command()
def workflows(
    email: str,
    chosen: Annotated[
        str, typer.Option("--set", help='Every workflow they work: "Support,Sales"; "" none')
    ],
    as_json: JsonFlag = False,
) -> None:
    """Set the workflows whose requests a user works."""
    from postroom.services import user_admin

    names = [n.strip() for n in chosen.split(",") if n.strip()]
    with database() as db:
        user_admin.set_workflows(db, OPERATOR, email, names)
        data = user_admin.detail(db, OPERATOR, email)
    emit(as_json, data, f"{data['email']} works: {', '.join(data['workflows']) or 'no workflow'}.")


@app.command()
def remove(
    email: str,
    reason: Annotated[str, typer.Option(help="Why; kept in the audit log")],
    mailboxes: Annotated[
        str, typer.Option(help="Their personal mailboxes: remove, or hand-over (with --to)")
    ] = "remove",
    to: Annotated[str | None, typer.Option(help="hand-over: the user who gets them")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove a user; their personal mailboxes are removed or handed to another user."""
    from postroom.services import user_admin

    with database() as db:
        user_admin.remove(db, OPERATOR, email, reason, mailboxes_to=mailboxes, hand_to=to)
    data = {"email": email.strip().lower(), "removed": True, "mailboxes": mailboxes, "to": to}
    emit(as_json, data, f"Removed {data['email']}.")
