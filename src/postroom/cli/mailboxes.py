"""postroom mailbox …"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from postroom.cli.context import database, listing
from postroom.cli.output import (
    JsonFlag,
    emit,
    fields,
    read_secret_stdin,
    read_text_file,
    report_text,
    reports_json,
    table,
)
from postroom.services import listings
from postroom.services.actors import OPERATOR

if TYPE_CHECKING:  # network code is imported by the commands that use it: see cli/lazy.py
    from postroom.connectors.test_connection import Report

app = typer.Typer(
    help="Mailboxes: system ones and each user's personal ones.", no_args_is_help=True
)

Owner = Annotated[
    str | None, typer.Option("--owner", help="The user whose personal mailbox this is")
]
Shared = Annotated[
    str | None,
    typer.Option(
        "--shared",
        help="A Microsoft 365 shared mailbox reached with the app's own access (app-only) or "
        "a person's sign-in (delegate); own: not shared",
    ),
]
SendAs = Annotated[
    bool | None,
    typer.Option(
        "--send-as/--send-on-behalf",
        help="--shared delegate: mail is From the shared address alone, or on behalf of it "
        "(Sender: the delegate)",
    ),
]
ACCESS = {"own": "own", "app-only": "shared-app-only", "delegate": "shared-delegate"}


def _access(shared: str | None) -> str | None:
    return None if shared is None else ACCESS.get(shared.strip().lower(), shared)


def _send_mode(send_as: bool | None) -> str | None:
    return None if send_as is None else ("send-as" if send_as else "send-on-behalf")


@app.command()
def add(
    address: str,
    incoming: Annotated[str | None, typer.Option(help="Server to receive from")] = None,
    outgoing: Annotated[str | None, typer.Option(help="Server to send through")] = None,
    system: Annotated[bool, typer.Option("--system", help="A system mailbox (admins)")] = False,
    owner: Owner = None,
    username: Annotated[
        str | None, typer.Option(help="Login name, if not made from the address")
    ] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    oauth_app: Annotated[
        str | None, typer.Option(help="Sign in with this OAuth app instead")
    ] = None,
    workflow: Annotated[str | None, typer.Option(help="Open requests in this workflow")] = None,
    after_import: Annotated[
        str | None, typer.Option(help="delete, mark-read, move:FOLDER or keep")
    ] = None,
    default: Annotated[bool, typer.Option("--default", help="Make it the owner's default")] = False,
    name: Annotated[str, typer.Option("--name", help="A display name")] = "",
    poll_interval: Annotated[int, typer.Option(help="Seconds between polls (IDLE is faster)")] = 60,
    folder: Annotated[str, typer.Option(help="IMAP folder to fetch from")] = "INBOX",
    sent_folder: Annotated[
        str | None, typer.Option(help="IMAP folder that keeps a copy of each email sent")
    ] = None,
    shared: Shared = None,
    send_as: SendAs = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a mailbox; the password is read from standard input."""
    from postroom.services import mailboxes, present

    if not system and owner is None:
        system = True  # the operator at the command line adds system mailboxes unless told whose
    spec = mailboxes.MailboxSpec(
        address=address,
        incoming=incoming,
        outgoing=outgoing,
        owner=owner,
        system=system,
        username=username,
        password=read_secret_stdin(password_stdin, "password"),
        oauth_app=oauth_app,
        workflow=workflow,
        after_import=after_import,
        default=default,
        display_name=name,
        poll_interval=poll_interval,
        folder=folder,
        sent_folder=sent_folder,
        access=_access(shared) or "own",
        send_mode=_send_mode(send_as),
    )
    with database() as db:
        data = present.mailbox(mailboxes.add(db, OPERATOR, spec))
    emit(as_json, data, f"Added {data['kind']} mailbox {data['address']}.")


@app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(help="CSV with a header line, or JSON lines; - reads standard input")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Add many mailboxes from a file, all or nothing; a bad row is reported with its line.
    Columns as `mailbox add` names them; passwords in a password or password_file column."""
    from postroom.services import mailbox_import, present

    if str(file) == "-":
        text, base = sys.stdin.read(), Path.cwd()
    else:
        text, base = read_text_file(file, "import") or "", file.parent
    rows = mailbox_import.read(text, base=base)
    with database() as db:
        data = [present.mailbox(m) for m in mailbox_import.add_all(db, OPERATOR, rows)]
    emit(as_json, {"added": len(data), "mailboxes": data}, f"Added {len(data)} mailboxes.")


@app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """List mailboxes with their state."""
    with listing() as db:
        rows = listings.mailboxes(db, OPERATOR)
    for row in rows:
        if row["workflow"] and row["workflow_status"] != "active":
            row["workflow"] = f"{row['workflow']} ({row['workflow_status']})"
    columns = ["address", "kind", "owner", "default", "incoming", "outgoing", "workflow", "state"]
    emit(as_json, rows, table(rows, columns, "No mailboxes yet: `postroom mailbox add`."))


@app.command()
def show(address: str, owner: Owner = None, as_json: JsonFlag = False) -> None:
    """Show one mailbox, its state and last error."""
    from postroom.services import mailboxes, present

    with database() as db:
        data = present.mailbox(mailboxes.get_for(db, OPERATOR, address, owner))
    emit(as_json, data, fields(data | {"push": present.push_line(data["push"])}))


def _print_reports(as_json: bool, reports: list[tuple[str, Report]]) -> None:
    text = "\n".join(report_text(role, report) for role, report in reports)
    emit(as_json, reports_json(reports), text or "Nothing to test: receiving and sending are off.")
    if not all(r.ok for _, r in reports):
        raise typer.Exit(1)


@app.command()
def test(
    address: str,
    owner: Owner = None,
    send_test_email: Annotated[bool, typer.Option("--send-test-email")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Test the mailbox's servers with its credentials, step by step."""
    from postroom.services import connection_tests

    reports = connection_tests.check_mailbox(
        OPERATOR, address, owner=owner, send_test_email=send_test_email
    )
    _print_reports(as_json, reports)


@app.command()
def reconnect(
    address: str,
    owner: Owner = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="A new password")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Clear the mailbox's error state (with a new password if given) and test it again.
    An OAuth2 mailbox signs in again instead (device code flow)."""
    from postroom.services import connection_tests, mailboxes, present

    with database() as db:
        app_name = present.mailbox(mailboxes.get_for(db, OPERATOR, address, owner))["oauth_app"]
    if app_name is not None:
        connect(address, app_name, owner, as_json=as_json)
        return
    password = read_secret_stdin(password_stdin, "password")
    reports = connection_tests.reconnect(OPERATOR, address, owner=owner, password=password)
    _print_reports(as_json, reports)


@app.command()
def edit(
    address: str,
    owner: Owner = None,
    name: Annotated[str | None, typer.Option("--name", help="A new display name")] = None,
    workflow: Annotated[
        str | None, typer.Option(help='New mail opens requests here; "" holds new mail')
    ] = None,
    incoming: Annotated[str | None, typer.Option(help='Incoming server; "" for none')] = None,
    outgoing: Annotated[str | None, typer.Option(help='Outgoing server; "" for none')] = None,
    receive: Annotated[
        bool | None, typer.Option("--receive/--no-receive", help="Fetch mail (a switch)")
    ] = None,
    send: Annotated[
        bool | None, typer.Option("--send/--no-send", help="Send mail (a switch)")
    ] = None,
    after_import: Annotated[
        str | None, typer.Option(help='delete, mark-read, move:FOLDER or keep; "" the usual')
    ] = None,
    folder: Annotated[str | None, typer.Option(help="IMAP folder to fetch from")] = None,
    poll_interval: Annotated[int | None, typer.Option(help="Seconds between fetches")] = None,
    sent_folder: Annotated[
        str | None, typer.Option(help='IMAP folder for copies of sent email; "" for none')
    ] = None,
    username: Annotated[str | None, typer.Option(help='Login name; "" for the usual')] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="A new password on standard input")
    ] = False,
    oauth_app: Annotated[str | None, typer.Option(help='OAuth app; "" for a password')] = None,
    sync: Annotated[
        str | None, typer.Option(help="Sync with the account: contacts,calendar or none")
    ] = None,
    dav_url: Annotated[
        str | None, typer.Option(help='CardDAV/CalDAV URL (IMAP, POP3); "" to discover it')
    ] = None,
    shared: Shared = None,
    send_as: SendAs = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a mailbox; only the options given change, all at once or not at all."""
    from postroom.services import mailbox_edits, mailboxes, present
    from postroom.services.mailbox_edits import MailboxChange

    change = MailboxChange(
        display_name=name,
        workflow=workflow,
        incoming=incoming,
        outgoing=outgoing,
        receive=receive,
        send=send,
        after_import=after_import,
        folder=folder,
        sent_folder=sent_folder,
        poll_interval=poll_interval,
        username=username,
        password=read_secret_stdin(password_stdin, "password"),
        oauth_app=oauth_app,
        sync=sync,
        dav_url=dav_url,
        access=_access(shared),
        send_mode=_send_mode(send_as),
    )
    with database() as db:
        mailbox = mailboxes.get_for(db, OPERATOR, address, owner)
        data = present.mailbox(mailbox_edits.edit(db, OPERATOR, mailbox, change))
    emit(as_json, data, f"Saved {data['address']}.")


@app.command("set-default")
def set_default(address: str, owner: Owner = None, as_json: JsonFlag = False) -> None:
    """Make a personal mailbox its owner's default."""
    from postroom.services import mailboxes, present

    with database() as db:
        data = present.mailbox(mailboxes.set_default(db, OPERATOR, address, owner))
    emit(as_json, data, f"{data['address']} is now the default mailbox of {data['owner']}.")


@app.command()
def remove(
    address: str,
    reason: Annotated[str, typer.Option(help="Why; kept in the audit log")],
    owner: Owner = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove a mailbox; the reason goes to the audit log."""
    from postroom.services import mailboxes

    with database() as db:
        mailboxes.remove(db, OPERATOR, address, reason, owner)
    emit(as_json, {"removed": address}, f"Removed {address}.")


@app.command()
def connect(
    address: str,
    oauth_app: Annotated[str, typer.Option(help="The OAuth app to sign in with")],
    owner: Owner = None,
    app_only: Annotated[
        bool, typer.Option("--app-only", help="Microsoft system mailbox: the app's own access")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Sign in with OAuth2 (device code flow): open the address shown, enter the code."""
    from postroom.connectors.oauth2 import OAuthClient
    from postroom.services import oauth, present

    if app_only:  # no transaction while the provider answers
        with database() as db:
            config = oauth.app_only_client(db, OPERATOR, oauth_app, address)
        with OAuthClient(config) as client:
            granted = client.client_credentials()
        with database() as db:
            data = present.mailbox(
                oauth.connect_app_only(db, OPERATOR, oauth_app, address, granted)
            )
        emit(as_json, data, f"Connected {data['address']} with app-only access.")
        return
    target = oauth.Target(address.strip().lower(), system=owner is None, owner=owner)
    with database() as db:
        config = oauth.device_client(db, OPERATOR, oauth_app, target)
    with OAuthClient(config) as client:
        device = client.start_device()
        typer.echo(device.message, err=True)  # stderr: stdout stays the command's result
        granted = client.wait_for_device(device)
    with database() as db:
        data = present.mailbox(oauth.attach(db, OPERATOR, oauth_app, target, granted))
    emit(as_json, data, f"Connected {data['address']} (signed in as {data['oauth_account']}).")


def _gaps() -> None:
    """`mailbox check` and `mailbox backfill` live in cli/gaps.py; registered here, where the
    lazily loaded `mailbox` group is made."""
    from postroom.cli import gaps

    app.command("check")(gaps.check)
    app.command("backfill")(gaps.backfill)


_gaps()
