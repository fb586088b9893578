"""The `postroom` command: sub-commands a few lines over services, one error handler."""

from __future__ import annotations

import json
import logging
import sys
from typing import Annotated

import click
import typer

from postroom.cli import discovery as discovery_cli
from postroom.cli import (
    doctor,
    gaps,
    inbound,
    mailboxes,
    oauth_apps,
    outbound,
    retention,
    servers,
    tokens,
    users,
    webhooks,
    workflows,
)
from postroom.cli.context import database
from postroom.cli.output import JsonFlag, emit, table
from postroom.config import get_settings
from postroom.errors import PostroomError
from postroom.services import audit, present
from postroom.services.actors import OPERATOR
from postroom.storage import migrate

app = typer.Typer(
    help="postroom: mail servers, mailboxes and the mail that becomes work.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(servers.app, name="server")
app.add_typer(oauth_apps.app, name="oauth-app")
app.add_typer(mailboxes.app, name="mailbox")
app.add_typer(workflows.app, name="workflow")
app.add_typer(users.app, name="user")
app.add_typer(inbound.request_app, name="request")
app.add_typer(inbound.held_app, name="held")
app.add_typer(retention.app, name="retention")
app.command()(inbound.fetch)
app.add_typer(outbound.outbox_app, name="outbox")
app.add_typer(outbound.connection_app, name="connection")
app.command()(outbound.send)
app.add_typer(discovery_cli.provider_app, name="provider")
app.command()(discovery_cli.discover)
app.add_typer(webhooks.app, name="webhook")
app.add_typer(tokens.app, name="token")
app.command()(doctor.doctor)
mailboxes.app.command("check")(gaps.check)
mailboxes.app.command("backfill")(gaps.backfill)

db_app = typer.Typer(help="The database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command()
def upgrade(as_json: JsonFlag = False) -> None:
    """Create or migrate the database schema to this version of postroom."""
    migrate.upgrade()
    emit(as_json, {"upgraded": True}, "The database is up to date.")


@app.command("audit")
def audit_log(
    limit: Annotated[int, typer.Option(help="How many, newest first; 0 for all")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Show the audit log: who changed what, when, and why."""
    with database() as db:
        rows = [present.audit_entry(e) for e in audit.entries(db, OPERATOR, limit)]
    emit(as_json, rows, table(rows, ["at", "actor", "action", "target", "reason"], "Nothing yet."))


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8025,
) -> None:
    """Run the console, the API and the workers in one process."""
    import uvicorn

    from postroom.api.app import create_app
    from postroom.metrics import process

    process.enable(get_settings().data_dir)  # before any metric exists: workers share it
    migrate.upgrade()
    try:
        uvicorn.run(create_app(), host=host, port=port, log_level=get_settings().log_level.lower())
    finally:
        process.forget_this_process()


@app.command()
def worker() -> None:
    """Run the fetch workers only (scale-out: several machines on one PostgreSQL)."""
    import signal
    import threading

    from postroom.metrics import process
    from postroom.storage.db import default_engine
    from postroom.workers.scheduler import Scheduler

    process.enable(get_settings().data_dir)  # `serve` on this host reports our counters
    migrate.upgrade()
    scheduler = Scheduler(default_engine())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    scheduler.start()
    stop.wait()
    scheduler.stop()
    process.forget_this_process()


def run() -> None:
    """Entry point: user errors become one line on stderr and a non-zero exit, never a traceback."""
    level = get_settings().log_level.upper()
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The report already shows each step; below DEBUG their log lines would only repeat it.
    quiet = level != "DEBUG"
    logging.getLogger("postroom.connectors").setLevel(logging.WARNING if quiet else logging.DEBUG)
    logging.getLogger("alembic").setLevel(logging.WARNING if quiet else logging.DEBUG)
    as_json = "--json" in sys.argv
    command = typer.main.get_command(app)
    try:
        code = command.main(standalone_mode=False)
    except PostroomError as exc:
        if as_json:
            sys.stderr.write(json.dumps({"error": exc.code, "message": str(exc)}) + "\n")
        else:
            sys.stderr.write(f"Error: {exc}\n")
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.stderr.write("Aborted.\n")
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
