"""The CLI contract of DESIGN.md: --json everywhere, clear errors on stderr, nothing stored when
a command is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Cli


def _ok(cli: Cli, *args: str, input: str | None = None) -> object:
    result = cli(*args, "--json", input=input)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def test_a_full_setup_reads_back_as_json(cli: Cli) -> None:
    _ok(cli, "workflow", "add", "Support", "--steps", "New,Triage,Done")
    _ok(cli, "server", "add", "in", "--protocol", "pop3", "--host", "pop.example.test")
    _ok(
        cli,
        "server",
        "add",
        "out",
        "--protocol",
        "smtp",
        "--host",
        "smtp.example.test",
        "--security",
        "starttls",
        "--connect-timeout",
        "5",
        "--timeout",
        "30",
    )
    _ok(cli, "user", "add", "ann@example.test", "--password-stdin", input="ann-password\n")
    _ok(
        cli,
        "mailbox",
        "add",
        "desk@example.test",
        "--incoming",
        "in",
        "--outgoing",
        "out",
        "--system",
        "--workflow",
        "Support",
        "--password-stdin",
        input="pw\n",
    )
    _ok(
        cli,
        "mailbox",
        "add",
        "ann@example.test",
        "--owner",
        "ann@example.test",
        "--incoming",
        "in",
        "--password-stdin",
        input="pw\n",
    )
    servers = _ok(cli, "server", "list")
    assert servers == [
        {
            "name": "in",
            "protocol": "pop3",
            "host": "pop.example.test",
            "port": 995,
            "security": "tls",
            "connect_timeout": 15.0,
            "timeout": 60.0,
            "login_format": "address",
            "verify_tls": True,
            "provider_domains": [],
            "max_connections": 10,
            "send_rate": None,
            "recipients_per_day": None,
        },
        {
            "name": "out",
            "protocol": "smtp",
            "host": "smtp.example.test",
            "port": 587,
            "security": "starttls",
            "connect_timeout": 5.0,
            "timeout": 30.0,
            "login_format": "address",
            "verify_tls": True,
            "provider_domains": [],
            "max_connections": 10,
            "send_rate": None,
            "recipients_per_day": None,
        },
    ]
    desk = _ok(cli, "mailbox", "show", "desk@example.test")
    assert isinstance(desk, dict)
    assert (desk["kind"], desk["workflow"], desk["after_import"], desk["password_set"]) == (
        "system",
        "Support",
        "delete",
        True,
    )
    ann = _ok(cli, "mailbox", "show", "ann@example.test")
    assert isinstance(ann, dict)
    assert (ann["kind"], ann["owner"], ann["default"]) == ("personal", "ann@example.test", True)
    assert _ok(cli, "workflow", "list") == [
        {
            "name": "Support",
            "steps": ["New", "Triage", "Done"],
            "active": True,
            "status": "active",
            "thread_same_domain": False,
            "acknowledgement": None,
        }
    ]
    shown = _ok(cli, "server", "show", "in")
    assert isinstance(shown, dict) and shown["mailboxes"] == [
        "ann@example.test",
        "desk@example.test",
    ]
    _ok(cli, "workflow", "deactivate", "Support")
    listed = _ok(cli, "mailbox", "list")
    assert isinstance(listed, list)
    assert [(m["address"], m["workflow_status"]) for m in listed] == [
        ("desk@example.test", "inactive"),
        ("ann@example.test", None),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["server", "add", "x", "--protocol", "imap", "--host", "h.test", "--port", "70000"],
            "Port 70000 is invalid",
        ),
        (
            ["server", "add", "x", "--protocol", "nntp", "--host", "h.test"],
            "Unknown protocol 'nntp'",
        ),
        (
            ["server", "add", "x", "--protocol", "imap", "--host", "imap://h.test"],
            "not a valid host",
        ),
        (
            ["server", "add", "x", "--protocol", "imap", "--host", "h.test", "--timeout", "0"],
            "out of range",
        ),
        (["workflow", "add", "W", "--steps", " , "], "at least one step"),
        (["mailbox", "add", "not-an-address", "--incoming", "dup"], "not a valid email address"),
        (["mailbox", "add", "desk@example.test", "--incoming", "dup"], "No password"),
        (["server", "add", "dup", "--protocol", "imap", "--host", "h.test"], "already exists"),
        (["mailbox", "remove", "nobody@example.test", "--reason", "x"], "No mailbox"),
        (["server", "show", "missing"], "No server named 'missing'"),
    ],
)
def test_bad_input_is_one_clear_line_on_stderr_and_stores_nothing(
    cli: Cli, args: list[str], message: str
) -> None:
    assert cli("server", "add", "dup", "--protocol", "imap", "--host", "h.test").code == 0
    before = cli("audit", "--json").stdout
    result = cli(*args)
    assert result.code == 1
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert cli("audit", "--json").stdout == before


def test_errors_in_json_mode_are_json_on_stderr(cli: Cli) -> None:
    result = cli("server", "show", "missing", "--json")
    assert result.code == 1
    assert json.loads(result.stderr) == {
        "error": "not-found",
        "message": "No server named 'missing': `postroom server list` shows them.",
    }


def test_removing_a_mailbox_without_a_reason_is_refused(cli: Cli) -> None:
    cli("server", "add", "in", "--protocol", "imap", "--host", "h.test")
    cli("mailbox", "add", "desk@example.test", "--incoming", "in", "--password-stdin", input="p\n")
    refused = cli("mailbox", "remove", "desk@example.test", "--reason", " ")
    assert refused.code == 1 and "reason is required" in refused.stderr
    assert cli("mailbox", "remove", "desk@example.test", "--reason", "moved to Graph").code == 0
    entries = json.loads(cli("audit", "--json").stdout)
    assert entries[0]["action"] == "mailbox.removed" and entries[0]["reason"] == "moved to Graph"


def test_an_empty_password_on_stdin_is_refused(cli: Cli) -> None:
    cli("server", "add", "in", "--protocol", "imap", "--host", "h.test")
    result = cli(
        "mailbox", "add", "desk@example.test", "--incoming", "in", "--password-stdin", input="\n"
    )
    assert result.code == 1 and "standard input was empty" in result.stderr


def test_oauth_apps_keep_the_client_secret_write_only(cli: Cli) -> None:
    app = _ok(
        cli,
        "oauth-app",
        "add",
        "m365",
        "--provider",
        "microsoft",
        "--client-id",
        "abc-123",
        "--tenant",
        "contoso.onmicrosoft.com",
        "--client-secret-stdin",
        input="cs-value\n",
    )
    assert isinstance(app, dict) and app["client_secret_set"] is True
    assert "cs-value" not in json.dumps(_ok(cli, "oauth-app", "show", "m365"))
    assert "cs-value" not in cli("oauth-app", "show", "m365").stdout


def test_workflow_steps_renames_and_reorders_and_refuses_removing_a_busy_step(
    cli: Cli,
) -> None:
    from postroom.services import workflows
    from postroom.storage.db import unit_of_work
    from postroom.storage.models import Request

    _ok(cli, "workflow", "add", "Support", "--steps", "New,Triage,Done")
    with unit_of_work() as db:
        workflow = workflows.get(db, "Support")
        db.add(Request(workflow_id=workflow.id, step_id=workflow.steps[1].id, subject="x"))
    changed = _ok(cli, "workflow", "steps", "Support", "--steps", "Triage=Working,New,Done")
    assert isinstance(changed, dict) and changed["steps"] == ["Working", "New", "Done"]
    refused = cli("workflow", "steps", "Support", "--steps", "New,Done")
    assert refused.code == 1
    assert refused.stderr.strip().endswith("or keep the step.")
    assert "'Working' of Support has 1 request(s)" in refused.stderr


def test_oauth_app_remove_is_refused_while_a_mailbox_uses_it(cli: Cli) -> None:
    _ok(cli, "oauth-app", "add", "m365", "--provider", "microsoft", "--client-id", "id-1")
    _ok(cli, "oauth-app", "add", "spare", "--provider", "google", "--client-id", "id-2")
    _ok(cli, "server", "add", "in", "--protocol", "imap", "--host", "imap.example.test")
    desk = "mailbox add desk@example.test --incoming in --system --oauth-app m365"
    _ok(cli, *desk.split())
    refused = cli("oauth-app", "remove", "m365")
    assert refused.code == 1 and "desk@example.test" in refused.stderr
    assert _ok(cli, "oauth-app", "remove", "spare") == {"removed": "spare"}
    names = _ok(cli, "oauth-app", "list")
    assert isinstance(names, list) and [a["name"] for a in names] == ["m365"]


def test_mailbox_add_refuses_a_display_name_with_a_line_break(cli: Cli) -> None:
    _ok(cli, "server", "add", "in", "--protocol", "pop3", "--host", "pop.example.test")
    refused = cli(
        "mailbox",
        "add",
        "desk@example.test",
        "--incoming",
        "in",
        "--name",
        "Desk\r\nBcc: victim@example.org",
        "--password-stdin",
        "--json",
        input="pw\n",
    )
    assert refused.code == 1 and "control characters" in refused.stderr
    assert _ok(cli, "mailbox", "list") == []


def test_a_servers_connection_cap_is_set_on_add_and_changed_on_edit(cli: Cli) -> None:
    added: Any = _ok(
        cli,
        "server",
        "add",
        "in",
        "--protocol",
        "imap",
        "--host",
        "imap.example.test",
        "--max-connections",
        "4",
    )
    assert added["max_connections"] == 4
    edited: Any = _ok(cli, "server", "edit", "in", "--max-connections", "2")
    assert edited["max_connections"] == 2
    refused = cli("server", "edit", "in", "--max-connections", "0")
    assert refused.code == 1 and "--max-connections" in refused.stderr
    shown: Any = _ok(cli, "server", "show", "in")
    assert shown["max_connections"] == 2
