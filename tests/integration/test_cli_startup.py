"""A `postroom` call imports what it uses and nothing more (DESIGN: a call that does no password
work starts in ≤ 0.3 s; benchmarks/cli_startup.py measures the time, this proves the cause)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from postroom.cli.main import Commands

HEAVY = (
    "sqlalchemy",
    "pydantic",
    "pydantic_core",
    "alembic",
    "httpx",
    "authlib",
    "fastapi",
    "pwdlib",
    "argon2",
)
PROBE = """
import json, sys
from postroom.cli.main import run
sys.argv = ["postroom", *json.loads(sys.argv[1])]
try:
    run()
except SystemExit:
    pass
sys.__stderr__.write(json.dumps(sorted(sys.modules)))
"""
# What a call that only reads rows must not pay for: migrating, the network, passwords, secrets
# (nothing is decrypted), the web stack, and the parts of postroom that fetch, parse and send.
NOT_FOR_READING = (
    "alembic",
    "httpx",
    "authlib",
    "fastapi",
    "starlette",
    "pwdlib",
    "argon2",
    "cryptography",
    "imapclient",
    "smtplib",
    "pydantic",  # settings are a dataclass, and typer is pinned below 0.29, which imports it
    "pydantic_core",
    "pydantic_settings",
    "postroom.connectors",
    "postroom.inbound.pipeline",
    "postroom.inbound.parse",
    "postroom.outbound.compose",
    "postroom.api",
    "postroom.web",
    "postroom.workers",
)


def _modules(args: list[str], data_dir: Path) -> set[str]:
    env = {**os.environ, "POSTROOM_DATA_DIR": str(data_dir)}
    env.pop("POSTROOM_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def _imported(args: list[str], data_dir: Path) -> set[str]:
    """Top-level packages, as the probe saw them."""
    return {m.split(".")[0] for m in _modules(args, data_dir)}


def _loaded(modules: set[str], names: tuple[str, ...]) -> set[str]:
    return {n for n in names if any(m == n or m.startswith(n + ".") for m in modules)}


def _postroom(data_dir: Path, *args: str, stdin: str = "secret\n") -> str:
    env = {**os.environ, "POSTROOM_DATA_DIR": str(data_dir)}
    env.pop("POSTROOM_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "postroom", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_help_loads_no_database_settings_or_network_code(tmp_path: Path) -> None:
    assert not _imported(["--help"], tmp_path) & set(HEAVY)


@pytest.mark.parametrize("args", [["mailbox", "list", "--help"], ["server", "add", "--help"]])
def test_a_commands_help_loads_no_pydantic(tmp_path: Path, args: list[str]) -> None:
    """typer 0.29 built a pydantic TypeAdapter for each of a command's parameters, so the
    command's own help paid for pydantic although the top-level help did not (pyproject)."""
    imported = _imported(args, tmp_path)
    assert "typer" in imported  # the probe sees real imports
    assert not imported & {"pydantic", "pydantic_core"}


@pytest.mark.parametrize(
    "args", [["--help"], ["db", "--help"], ["mailbox", "--help"], ["mailbox", "list", "--help"]]
)
def test_help_is_plain_text_without_rich(tmp_path: Path, args: list[str]) -> None:
    """Typer formats help with Rich and its Markdown parser by default, a third of `--help`'s
    time; every command postroom loads is made plain (cli/lazy.plain)."""
    imported = _imported(args, tmp_path)
    assert "typer" in imported  # the probe sees real imports
    assert "rich" not in imported


def test_listing_mailboxes_loads_the_database_but_no_network_migration_or_password_code(
    tmp_path: Path,
) -> None:
    _imported(["db", "upgrade"], tmp_path)  # a first call on a new SQLite file migrates it
    imported = _imported(["mailbox", "list", "--json"], tmp_path)
    assert "sqlalchemy" in imported  # the probe sees real imports
    assert not imported & {"alembic", "httpx", "authlib", "fastapi", "argon2", "pydantic"}


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database with a few rows of each kind the read-only calls list."""
    data_dir = tmp_path_factory.mktemp("listed")
    _postroom(data_dir, "server", "add", "in", "--protocol", "imap", "--host", "127.0.0.1")
    _postroom(data_dir, "server", "add", "out", "--protocol", "smtp", "--host", "127.0.0.1")
    _postroom(data_dir, "workflow", "add", "Desk", "--steps", "New,Done")
    _postroom(
        data_dir,
        "mailbox", "add", "desk@example.org", "--incoming", "in", "--outgoing", "out",
        "--workflow", "Desk", "--password-stdin",
    )  # fmt: skip
    # What `add --json` showed (the ORM path), for the listed rows to be compared with.
    added = {
        "user": _postroom(
            data_dir, "user", "add", "ann@example.org", "--password-stdin", "--json",
            stdin="a long enough password\n",
        ),
        "oauth-app": _postroom(
            data_dir, "oauth-app", "add", "Entra", "--provider", "microsoft", "--client-id", "c1",
            "--client-secret-stdin", "--json",
        ),
        "connection": _postroom(
            data_dir, "connection", "add", "Replies", "--mailbox", "desk@example.org", "--json"
        ),
        "webhook": _postroom(
            data_dir, "webhook", "add", "crm", "--url", "https://crm.example.org/hook",
            "--event", "request.opened", "--json",
        ),
        "token": _postroom(data_dir, "token", "add", "prometheus", "--metrics", "--json"),
    }  # fmt: skip
    (data_dir / "added.json").write_text(json.dumps({k: json.loads(v) for k, v in added.items()}))
    _postroom(
        data_dir,
        "send", "--from", "desk@example.org", "--to", "ann@example.org", "--to", "bo@example.net",
        "--subject", "Invoice",
    )  # fmt: skip
    _python(data_dir, SEED)
    return data_dir


# A request with two emails and a held one, as fetching would have stored them.
SEED = r"""
import hashlib
from sqlalchemy import select
from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox, Message, Request, Workflow

def message(n, **fields):
    raw = f"Subject: {n}\r\n\r\nhi\r\n".encode()
    return Message(raw=raw, size=len(raw), sha256=hashlib.sha256(raw).hexdigest(), **fields)

with unit_of_work() as db:
    desk = db.scalars(select(Workflow)).one()
    mailbox = db.scalars(select(Mailbox)).one()
    request = Request(workflow=desk, step=desk.steps[1], mailbox_id=mailbox.id,
                      subject="Broken printer", requester="ann@example.org")
    db.add(request)
    ann = {"mailbox_id": mailbox.id, "status": "routed", "sender": "ann@example.org"}
    db.add_all([
        message(1, request=request, **ann),
        message(2, request=request, **ann),
        message(3, mailbox_id=mailbox.id, status="held", held_reason="auto-reply",
                sender="robot@example.org", subject="Away", remote_key="7",
                rule_hits=[{"rule": "auto-reply", "reason": "Auto-Submitted: auto-replied"}]),
    ])
print("null")
"""


def _python(data_dir: Path, code: str) -> object:
    """What a script printed as JSON, run against the data directory's database."""
    env = {**os.environ, "POSTROOM_DATA_DIR": str(data_dir)}
    env.pop("POSTROOM_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ["mailbox", "list"],
        ["mailbox", "list", "--json"],
        ["mailbox", "show", "desk@example.org", "--json"],
        ["server", "list", "--json"],
        ["workflow", "list"],
        ["workflow", "list", "--json"],
        ["request", "list", "--json"],
        ["held", "list", "--json"],
        ["outbox", "list"],
        ["outbox", "list", "--json"],
    ],
)
def test_reading_rows_loads_no_migration_network_secret_or_mail_handling_code(
    listed: Path, args: list[str]
) -> None:
    modules = _modules(args, listed)
    assert "sqlalchemy" in modules  # the probe sees real imports
    assert not _loaded(modules, NOT_FOR_READING)


@pytest.mark.parametrize("name", list(Commands.lazy))
def test_each_lazy_command_shows_its_own_help_line(name: str) -> None:
    lazy = Commands.lazy[name]
    real = lazy.load(name)
    assert real.name == name
    first_paragraph = " ".join((real.help or "").split("\n\n")[0].split())
    assert lazy.help == first_paragraph


def test_fetching_imap_or_pop3_mail_loads_no_http_or_oauth_client(tmp_path: Path) -> None:
    _imported(["db", "upgrade"], tmp_path)
    imported = _imported(["fetch", "--once"], tmp_path)
    assert "imapclient" in imported  # the fetch path itself is loaded
    assert not imported & {"alembic", "httpx", "authlib", "fastapi", "argon2"}


# Listing reads Core tables (services/listings.py): the ORM's import and mapper set-up were most
# of a listing call's time (storage/tables.py).
ORM = ("sqlalchemy.orm", "postroom.storage.models", "postroom.services.present")


@pytest.mark.parametrize(
    "args",
    [
        ["mailbox", "list"],
        ["mailbox", "list", "--json"],
        ["server", "list"],
        ["server", "list", "--json"],
        ["workflow", "list", "--json"],
        ["workflow", "list", "--all"],
        ["user", "list"],
        ["user", "list", "--json"],
        ["oauth-app", "list", "--json"],
        ["oauth-app", "show", "Entra", "--json"],
        ["connection", "list"],
        ["connection", "list", "--json"],
        ["webhook", "list", "--json"],
        ["webhook", "show", "crm", "--json"],
        ["token", "list"],
        ["token", "list", "--json"],
        ["request", "list"],
        ["request", "list", "--json"],
        ["request", "list", "--workflow", "Desk", "--json"],
        ["held", "list", "--json"],
        ["held", "list", "--reason", "auto-reply"],
        ["outbox", "list"],
        ["outbox", "list", "--json"],
        ["outbox", "list", "--state", "queued", "--recipient", "ann@", "--json"],
        ["outbox", "list", "--mailbox", "desk@example.org", "--since", "2020-01-01", "--json"],
    ],
)
def test_listing_loads_no_orm(listed: Path, args: list[str]) -> None:
    modules = _modules(args, listed)
    assert "postroom.services.listings" in modules  # the probe saw the listing itself
    assert not _loaded(modules, ORM)


def _json(data_dir: Path, *args: str) -> object:
    env = {**os.environ, "POSTROOM_DATA_DIR": str(data_dir)}
    env.pop("POSTROOM_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "postroom", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_a_listed_row_is_what_the_orm_path_shows(listed: Path) -> None:
    """`show` presents an ORM row, `list` reads Core: one shape, the same values."""
    listed_mailboxes = _json(listed, "mailbox", "list")
    assert isinstance(listed_mailboxes, list)
    (listed_mailbox,) = listed_mailboxes
    assert listed_mailbox["incoming"] == "in"
    assert listed_mailbox["workflow"] == "Desk"
    assert listed_mailbox == _json(listed, "mailbox", "show", "desk@example.org")
    servers = _json(listed, "server", "list")
    assert isinstance(servers, list)
    shown = _json(listed, "server", "show", "in")
    assert isinstance(shown, dict)
    assert shown.pop("mailboxes") == ["desk@example.org"]
    assert [s for s in servers if s["name"] == "in"] == [shown]


def test_each_administered_row_listed_is_what_adding_it_showed(listed: Path) -> None:
    """`add --json` presents the new ORM row, `list` and `show` read Core: one shape, the same
    values, and the secrets only as whether one is set (shown once when made)."""
    added = json.loads((listed / "added.json").read_text())
    users = _json(listed, "user", "list")
    assert isinstance(users, list)
    assert [u for u in users if u["email"] == "ann@example.org"] == [added["user"]]
    shown_user = _json(listed, "user", "show", "ann@example.org")
    assert isinstance(shown_user, dict)
    assert {k: shown_user[k] for k in added["user"]} == added["user"]

    assert added["oauth-app"]["client_secret_set"] is True
    assert _json(listed, "oauth-app", "list") == [added["oauth-app"]]
    assert _json(listed, "oauth-app", "show", "Entra") == added["oauth-app"]

    assert added["connection"]["mailbox"] == "desk@example.org"
    assert _json(listed, "connection", "list") == [added["connection"]]
    assert _json(listed, "connection", "show", "Replies") == added["connection"]

    webhook = added["webhook"]
    assert webhook.pop("secret").startswith("whsec_")
    assert webhook["secret_set"] is True
    assert _json(listed, "webhook", "list") == [webhook]
    assert _json(listed, "webhook", "show", "crm") == webhook

    token = added["token"]
    assert token.pop("token").startswith(token["prefix"])
    assert _json(listed, "token", "list") == [token]


def test_listed_requests_held_mail_and_outbox_items_are_what_the_orm_path_shows(
    listed: Path,
) -> None:
    """`request show`, `outbox show` and the held message's page present ORM rows; the lists
    read Core: one shape, the same values."""
    requests = _json(listed, "request", "list")
    assert isinstance(requests, list)
    (request,) = requests
    assert (request["workflow"], request["step"], request["messages"]) == ("Desk", "Done", 2)
    shown = _json(listed, "request", "show", str(request["id"]))
    assert isinstance(shown, dict)
    assert {k: shown[k] for k in request} == request
    assert _json(listed, "request", "list", "--workflow", "Desk") == [request]

    items = _json(listed, "outbox", "list")
    assert isinstance(items, list)
    (item,) = items
    assert [r["address"] for r in item["recipients"]] == ["ann@example.org", "bo@example.net"]
    assert item == _json(listed, "outbox", "show", str(item["id"]))
    assert _json(listed, "outbox", "list", "--state", "queued", "--recipient", "bo@") == [item]
    assert _json(listed, "outbox", "list", "--state", "sent") == []
    assert _json(listed, "outbox", "list", "--recipient", "carl@") == []
    assert _json(listed, "outbox", "list", "--until", "2020-01-01") == []

    held = _json(listed, "held", "list")
    assert isinstance(held, list)
    (message,) = held
    assert (message["reason"], message["remote_key"]) == ("auto-reply", "7")
    assert _json(listed, "held", "list", "--reason", "bounce") == []
    show = (
        "import json\n"
        "from postroom.services import held\n"
        "from postroom.services.actors import OPERATOR\n"
        "from postroom.storage.db import unit_of_work\n"
        "with unit_of_work() as db:\n"
        f"    print(json.dumps(held.show(db, OPERATOR, {message['id']})))\n"
    )
    orm = _python(listed, show)
    assert isinstance(orm, dict)
    assert {k: orm[k] for k in message} == message
