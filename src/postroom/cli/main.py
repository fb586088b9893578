"""The `postroom` command: sub-commands a few lines over services, one error handler."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

import click
import typer
from typer._click import Context

from postroom.cli.lazy import Lazy, LazyGroup
from postroom.cli.output import JsonFlag, emit, table
from postroom.errors import PostroomError


class Commands(LazyGroup):
    """Each loaded only when it runs: see cli/lazy.py."""

    lazy: ClassVar[Mapping[str, Lazy]] = {
        "server": Lazy(
            "postroom.cli.servers", "app", "Mail servers: where mail lives and how to reach it."
        ),
        "oauth-app": Lazy(
            "postroom.cli.oauth_apps", "app", "OAuth apps: registered OAuth2 clients."
        ),
        "mailbox": Lazy(
            "postroom.cli.mailboxes", "app", "Mailboxes: system ones and each user's personal ones."
        ),
        "workflow": Lazy(
            "postroom.cli.workflows", "app", "Workflows: the ordered steps requests move through."
        ),
        "user": Lazy("postroom.cli.users", "app", "Users of the console and the API."),
        "request": Lazy(
            "postroom.cli.inbound", "request_app", "Requests: the work inbound mail became."
        ),
        "held": Lazy("postroom.cli.inbound", "held_app", "Held messages: kept with their reason."),
        "retention": Lazy(
            "postroom.cli.retention", "app", "How long held mail is kept, by reason."
        ),
        "fetch": Lazy(
            "postroom.cli.inbound",
            "fetch",
            "Fetch and process everything waiting; exit 1 if any mailbox could not be reached.",
        ),
        "outbox": Lazy(
            "postroom.cli.outbound",
            "outbox_app",
            "The outbox: email waiting to be sent, and what became of it.",
        ),
        "connection": Lazy(
            "postroom.cli.outbound", "connection_app", "Connections: named outbound routes."
        ),
        "send": Lazy(
            "postroom.cli.outbound",
            "send",
            "Queue one email; `outbox flush --once` or the workers send it.",
        ),
        "provider": Lazy(
            "postroom.cli.discovery",
            "provider_app",
            "Mail providers for discovery: which servers serve which domains.",
        ),
        "discover": Lazy(
            "postroom.cli.discovery",
            "discover",
            "Find server settings for an address: each names its source. Nothing signs in.",
        ),
        "webhook": Lazy(
            "postroom.cli.webhooks", "app", "Webhooks: tell other products what happened."
        ),
    }

    def invoke(self, ctx: Context) -> Any:
        _configure_logging()  # here, once the arguments are parsed: `--help` needs no settings
        return super().invoke(ctx)


def _configure_logging() -> None:
    from postroom.config import get_settings  # pydantic: not for `--help`

    level = get_settings().log_level.upper()
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The report already shows each step; below DEBUG their log lines would only repeat it.
    quiet = level != "DEBUG"
    logging.getLogger("postroom.connectors").setLevel(logging.WARNING if quiet else logging.DEBUG)
    logging.getLogger("alembic").setLevel(logging.WARNING if quiet else logging.DEBUG)


app = typer.Typer(
    cls=Commands,
    help="postroom: mail servers, mailboxes and the mail that becomes work.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

db_app = typer.Typer(help="The database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command()
def upgrade(as_json: JsonFlag = False) -> None:
    """Create or migrate the database schema to this version of postroom."""
    from postroom.storage import migrate

    migrate.upgrade()
    emit(as_json, {"upgraded": True}, "The database is up to date.")


@app.command("audit")
def audit_log(
    limit: Annotated[int, typer.Option(help="How many, newest first; 0 for all")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Show the audit log: who changed what, when, and why."""
    from postroom.cli.context import database
    from postroom.services import audit, present
    from postroom.services.actors import OPERATOR

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
    from postroom.config import get_settings
    from postroom.storage import migrate

    migrate.upgrade()
    uvicorn.run(create_app(), host=host, port=port, log_level=get_settings().log_level.lower())


@app.command()
def worker() -> None:
    """Run the fetch workers only (scale-out: several machines on one PostgreSQL)."""
    import signal
    import threading

    from postroom.storage import migrate
    from postroom.storage.db import default_engine
    from postroom.workers.scheduler import Scheduler

    migrate.upgrade()
    scheduler = Scheduler(default_engine())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    scheduler.start()
    stop.wait()
    scheduler.stop()


def run() -> None:
    """Entry point: user errors become one line on stderr and a non-zero exit, never a traceback."""
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
