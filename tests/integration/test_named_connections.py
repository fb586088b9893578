"""Named connections (the Infor seed): edited from the CLI and the API through one service, and
tested step by step exactly as they send, against a real SMTP server."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from postroom.api.app import create_app
from postroom.services import api_tokens, users
from postroom.services.actors import OPERATOR
from postroom.storage.db import unit_of_work
from tests.conftest import Cli
from tests.integration.mailhelpers import add_mailbox, add_server, cli_json, steps
from tests.servers.smtp import SmtpServer

ADDRESS = "desk@example.test"

pytestmark = pytest.mark.usefixtures("trust_test_ca")


def _connection(cli: Cli, port: int, password: str = "desk-pass-1") -> None:
    add_server(cli, "out", "smtp", port, "starttls")
    add_mailbox(cli, ADDRESS, password, "--outgoing", "out", "--system")
    added = cli("connection", "add", "infor", "--mailbox", ADDRESS)
    assert added.code == 0, added.stderr


def test_the_cli_test_runs_each_step_and_exits_1_when_one_fails(
    cli: Cli, smtp_server: SmtpServer
) -> None:
    _connection(cli, smtp_server.port)
    code, data = cli_json(cli, "connection", "test", "infor")
    assert code == 0
    report = data["reports"][0]
    assert [n for n, ok in steps(report) if ok] == [
        "resolve",
        "connect",
        "greeting",
        "starttls",
        "login",
        "envelope",
    ]
    text = cli("connection", "test", "infor")
    assert text.code == 0 and "envelope" in text.stdout and "passed" in text.stdout

    # Implicit TLS on a STARTTLS port: the TLS step fails and says so, with exit code 1.
    edited = cli("connection", "edit", "infor", "--security", "tls", "--connect-timeout", "4")
    assert edited.code == 0, edited.stderr
    code, data = cli_json(cli, "connection", "test", "infor")
    assert code == 1
    failed = data["reports"][0]["steps"][-1]
    assert not failed["ok"] and failed["name"] == "tls"


def test_a_wrong_password_fails_at_login_and_auth_none_skips_it(
    cli: Cli, smtp_server: SmtpServer
) -> None:
    _connection(cli, smtp_server.port, password="wrong-password")
    code, data = cli_json(cli, "connection", "test", "infor")
    assert code == 1
    failed = data["reports"][0]["steps"][-1]
    assert (failed["name"], failed["failure"]) == ("login", "auth-failed")
    # A relay without AUTH: no sign-in step; this server wants AUTH, so the envelope is refused.
    assert cli("connection", "edit", "infor", "--auth", "none").code == 0
    code, data = cli_json(cli, "connection", "test", "infor")
    names = [n for n, _ in steps(data["reports"][0])]
    assert "login" not in names and names[-1] == "envelope"


def test_cli_edit_changes_only_what_is_given_and_none_clears(cli: Cli) -> None:
    add_server(cli, "out", "smtp", 2525, "starttls")
    add_mailbox(cli, ADDRESS, "pw", "--outgoing", "out", "--system")
    args = ("--mailbox", ADDRESS, "--send-timeout", "30", "--action-base-url", "https://x.test/")
    assert cli("connection", "add", "infor", *args).code == 0
    code, data = cli_json(cli, "connection", "edit", "infor", "--connect-timeout", "5")
    assert code == 0, data
    assert (data["connect_timeout"], data["send_timeout"]) == (5.0, 30.0)
    assert data["action_base_url"] == "https://x.test"
    code, data = cli_json(
        cli, "connection", "edit", "infor", "--send-timeout", "none", "--name", "infor-2"
    )
    assert code == 0 and data["send_timeout"] is None and data["name"] == "infor-2"
    refused = cli("connection", "edit", "infor-2", "--connect-timeout", "0")
    assert refused.code != 0 and "out of range" in refused.stderr
    refused = cli("connection", "edit", "infor-2", "--auth", "kerberos")
    assert refused.code != 0 and "Unknown authentication" in refused.stderr
    _, data = cli_json(cli, "connection", "show", "infor-2")
    assert (data["connect_timeout"], data["auth"]) == (5.0, "basic")


def test_the_api_edits_and_tests_a_connection(cli: Cli, smtp_server: SmtpServer) -> None:
    _connection(cli, smtp_server.port)
    with unit_of_work() as db:
        admin = users.add(db, OPERATOR, "admin@example.test", "password-1", admin=True)
        _, token = api_tokens.create(db, users.actor_for(admin), "tests")
        plain = users.add(db, OPERATOR, "ann@example.test", "password-1")
        _, ann_token = api_tokens.create(db, users.actor_for(plain), "tests")
    with TestClient(create_app(workers=False)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        tested = client.post("/api/v1/connections/infor/test", headers=auth)
        assert tested.status_code == 200, tested.text
        assert tested.json()["ok"] is True
        assert tested.json()["reports"][0]["steps"][-1]["name"] == "envelope"
        changed = client.patch(
            "/api/v1/connections/infor",
            headers=auth,
            json={"security": "tls", "send_timeout": 20, "connect_timeout": None},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["security"] == "tls" and changed.json()["send_timeout"] == 20.0
        tested = client.post("/api/v1/connections/infor/test", headers=auth)
        assert tested.json()["ok"] is False
        kept = client.patch(
            "/api/v1/connections/infor", headers=auth, json={"name": None, "mailbox": None}
        )
        assert kept.status_code == 200 and kept.json()["name"] == "infor"
        refused = client.patch("/api/v1/connections/infor", headers=auth, json={"auth": "x"})
        assert refused.status_code == 422 and "Unknown authentication" in refused.text
        ann = {"Authorization": f"Bearer {ann_token}"}
        assert client.post("/api/v1/connections/infor/test", headers=ann).status_code == 403
        assert client.patch("/api/v1/connections/infor", headers=ann, json={}).status_code == 403
