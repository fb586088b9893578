"""The `postroom` command: sub-commands a few lines over services, one error handler."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, NoReturn

import typer
from typer._click import Context
from typer._click import exceptions as click_errors

from postroom.cli.lazy import Lazy, LazyGroup
from postroom.cli.output import JsonFlag, emit, table
from postroom.cli.params import Limit
from postroom.errors import Conflict, PostroomError


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
            "postroom.cli.connections", "connection_app", "Connections: named outbound routes."
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
        "token": Lazy("postroom.cli.tokens", "app", "Tokens that read /metrics."),
        "sync": Lazy(
            "postroom.cli.sync",
            "sync",
            "Sync contacts and calendars with the accounts, both ways; exit 1 if one failed.",
        ),
        "contact": Lazy(
            "postroom.cli.sync", "contact_app", "Contacts, synced with the mailboxes' accounts."
        ),
        "activity": Lazy(
            "postroom.cli.sync",
            "activity_app",
            "Activities: follow-ups and meetings in the mailboxes' calendars.",
        ),
        "doctor": Lazy(
            "postroom.cli.doctor",
            "doctor",
            "What will stop working, per mailbox, connection and server, when, and the fix.",
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
    rich_markup_mode=None,  # plain help and errors: cli/lazy.plain says why
)

db_app = typer.Typer(help="The database.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db")


@db_app.command()
def upgrade(as_json: JsonFlag = False) -> None:
    """Create or migrate the database schema to this version of postroom."""
    from postroom.storage import migrate

    migrate.upgrade()
    emit(as_json, {"upgraded": True}, "The database is up to date.")


@app.command("audit")
def audit_log(
    limit: Limit = 50,
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
    from postroom.metrics import process
    from postroom.storage import migrate

    process.enable(get_settings().data_dir)  # before any metric exists: workers share it
    migrate.upgrade()
    _print_first_run_link(_base_url(host, port))
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from loopback; the
    # app reads it only from POSTROOM_TRUSTED_PROXIES.
    try:
        uvicorn.run(
            create_app(),
            host=host,
            port=port,
            log_level=get_settings().log_level.lower(),
            proxy_headers=False,
        )
    finally:
        process.forget_this_process()


def _base_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches `serve`; POSTROOM_PUBLIC_URL when it listens on
    every interface."""
    from ipaddress import ip_address

    from postroom.config import get_settings

    try:
        everywhere = ip_address(host).is_unspecified
    except ValueError:
        everywhere = False
    return get_settings().public_url if everywhere else f"http://{host}:{port}"


def _print_first_run_link(base_url: str) -> bool:
    from postroom.cli.context import database
    from postroom.services import first_run

    with database() as db:
        link = first_run.link(db, base_url)
    if link is not None:
        typer.echo(f"No administrator yet: create the first one at {link}", err=True)
    return link is not None


@app.command("first-run-link")
def first_run_link(as_json: JsonFlag = False) -> None:
    """Print the one-time setup link that makes the first administrator (until one exists)."""
    from postroom.cli.context import database
    from postroom.config import get_settings
    from postroom.services import first_run

    with database() as db:
        link = first_run.link(db, get_settings().public_url)
    if link is None:
        raise Conflict("An administrator exists: there is no setup link any more.")
    emit(as_json, {"link": link}, link)


@app.command()
def worker() -> None:
    """Run the fetch workers only (scale-out: several machines on one PostgreSQL)."""
    import signal
    import threading

    from postroom.config import get_settings
    from postroom.metrics import process
    from postroom.storage import migrate
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
    as_json = "--json" in sys.argv
    command = typer.main.get_command(app)
    try:
        code = command.main(standalone_mode=False)
    except PostroomError as exc:
        _fail(as_json, exc.code, str(exc), 1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _fail(as_json, "aborted", "Aborted.", 1)
    except click_errors.NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click_errors.ClickException as exc:
        # The locked typer vendors click and raises its own exceptions (typer._click), not
        # click's: usage errors (exit 2) and file errors (exit 1) alike end here, one line each.
        code_name = "usage" if isinstance(exc, click_errors.UsageError) else "error"
        _fail(as_json, code_name, exc.format_message(), exc.exit_code)
    except Exception as exc:  # the contract: never a traceback; one line and exit 1
        # Only the first line, and only the frames at DEBUG: a database error's later lines
        # carry the statement's parameters, which can be raw mail or sealed secrets.
        import traceback

        frames = "".join(traceback.format_tb(exc.__traceback__))
        logging.getLogger("postroom.cli").debug("unexpected error at:\n%s", frames)
        first = (str(exc).splitlines() or [""])[0][:300]
        detail = f"{type(exc).__name__}: {first} (POSTROOM_LOG_LEVEL=DEBUG logs where)"
        _fail(as_json, "unexpected", detail, 1)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(as_json: bool, code: str, message: str, exit_code: int) -> NoReturn:
    """One line on stderr (JSON with --json) and the exit code: 2 for usage, 1 otherwise."""
    line = " ".join(message.split())
    if as_json:
        sys.stderr.write(json.dumps({"error": code, "message": line}) + "\n")
    else:
        sys.stderr.write(f"Error: {line}\n")
    sys.exit(exit_code)
