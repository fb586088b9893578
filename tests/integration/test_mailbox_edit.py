"""Editing a system mailbox (seeds 000 and 002): workflow, servers, the receive and send switches,
after-import action, folder, poll interval and credentials, from the CLI and the API, against a
real Dovecot; a refused change changes nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from postroom.api.app import create_app
from postroom.services import api_tokens, users
from postroom.services.actors import OPERATOR
from postroom.storage.db import unit_of_work
from tests.conftest import Cli
from tests.integration.mailhelpers import add_desk, add_server, cli_json
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot


def _edit(cli: Cli, address: str, *args: str, input: str | None = None) -> dict[str, object]:
    code, data = cli_json(cli, "mailbox", "edit", address, *args, input=input)
    assert code == 0, data
    assert isinstance(data, dict)
    return data


def _requests(cli: Cli) -> list[tuple[str, str]]:
    _, rows = cli_json(cli, "request", "list", "--limit", "0")
    return sorted((r["subject"], r["workflow"]) for r in rows)


def test_switches_workflow_and_after_import_change_what_fetching_does(
    cli: Cli, dovecot: Dovecot
) -> None:
    desk = add_desk(cli, dovecot, "imap", dovecot.imap_port)
    assert cli("workflow", "add", "Sales", "--steps", "New,Won").code == 0

    assert _edit(cli, desk, "--no-receive")["receive"] is False
    dovecot.deliver(desk, [email_from("cust@example.org", "Quote please", "Ten chairs.")])
    code, runs = cli_json(cli, "fetch", "--once")
    assert code == 0 and runs == []
    assert _requests(cli) == []

    data = _edit(
        cli,
        desk,
        "--receive",
        "--workflow",
        "Sales",
        "--after-import",
        "keep",
        "--poll-interval",
        "120",
        "--name",
        "Sales desk",
    )
    assert (data["receive"], data["workflow"], data["after_import"]) == (True, "Sales", "keep")
    assert (data["poll_interval"], data["display_name"]) == (120, "Sales desk")
    code, runs = cli_json(cli, "fetch", "--once")
    assert code == 0, runs
    assert _requests(cli) == [("Quote please", "Sales")]


def test_a_refused_change_changes_nothing_and_pop3_takes_only_delete_or_keep(
    cli: Cli, dovecot: Dovecot
) -> None:
    desk = add_desk(cli, dovecot, "imap", dovecot.imap_port)
    add_server(cli, "in-pop", "pop3", dovecot.pop3_port, "none")
    _edit(cli, desk, "--after-import", "move:Processed")

    refused = cli("mailbox", "edit", desk, "--incoming", "in-pop", "--workflow", "")
    assert refused.code != 0 and "POP3 has no read flag or folders" in refused.stderr
    _, shown = cli_json(cli, "mailbox", "show", desk)
    assert (shown["incoming"], shown["workflow"]) == ("in", "Support")

    data = _edit(cli, desk, "--incoming", "in-pop", "--after-import", "delete")
    assert (data["incoming"], data["after_import"], data["state"]) == ("in-pop", "delete", "new")
    refused = cli("mailbox", "edit", desk, "--folder", "Archive")
    assert refused.code != 0 and "POP3 has only the inbox" in refused.stderr

    refused = cli("mailbox", "edit", desk, "--send")
    assert refused.code != 0 and "Sending needs an outgoing server" in refused.stderr
    refused = cli("mailbox", "edit", desk, "--incoming", "")
    assert refused.code != 0 and "needs an incoming or an outgoing server" in refused.stderr
    refused = cli("mailbox", "edit", desk, "--poll-interval", "0")
    assert refused.code != 0 and "out of range" in refused.stderr


def test_new_credentials_are_what_the_next_test_signs_in_with(cli: Cli, dovecot: Dovecot) -> None:
    desk = add_desk(cli, dovecot, "imap", dovecot.imap_port)
    _edit(cli, desk, "--password-stdin", input="not-the-password\n")
    code, data = cli_json(cli, "mailbox", "test", desk)
    assert code == 1
    assert data["reports"][0]["steps"][-1]["failure"] == "auth-failed"
    _edit(cli, desk, "--password-stdin", input="desk-pass-1\n")
    code, data = cli_json(cli, "mailbox", "test", desk)
    assert code == 0, data


def test_the_api_patch_takes_the_same_fields(cli: Cli, dovecot: Dovecot) -> None:
    desk = add_desk(cli, dovecot, "imap", dovecot.imap_port)
    assert cli("workflow", "add", "Sales", "--steps", "New,Won").code == 0
    with unit_of_work() as db:
        admin = users.add(db, OPERATOR, "admin@example.test", "password-1", admin=True)
        _, token = api_tokens.create(db, users.actor_for(admin), "tests")
        ann = users.add(db, OPERATOR, "ann@example.test", "password-1")
        _, ann_token = api_tokens.create(db, users.actor_for(ann), "tests")
    with TestClient(create_app(workers=False)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        path = f"/api/v1/mailboxes/{desk}"
        body = {
            "workflow": "Sales",
            "receive": False,
            "after_import": "move:Done",
            "folder": "Work",
        }
        changed = client.patch(path, headers=auth, json=body)
        assert changed.status_code == 200, changed.text
        data = changed.json()
        assert (data["workflow"], data["receive"], data["after_import"], data["folder"]) == (
            "Sales",
            False,
            "move:Done",
            "Work",
        )
        assert "password" not in data
        refused = client.patch(path, headers=auth, json={"send": True})
        assert refused.status_code == 422 and refused.json()["field"] == "send"
        unknown = client.patch(path, headers=auth, json={"colour": "red"})
        assert unknown.status_code == 422
        ann_auth = {"Authorization": f"Bearer {ann_token}"}
        assert client.patch(path, headers=ann_auth, json={"receive": True}).status_code == 404
        assert client.get(path, headers=auth).json()["receive"] is False
