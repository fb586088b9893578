"""The first administrator: exactly one however many try at once, through the setup link that
only the operator sees (printed by `postroom serve` and `postroom first-run-link`)."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from postroom.api.app import create_app
from postroom.services import first_run
from postroom.storage.db import unit_of_work
from postroom.storage.models import User
from tests.conftest import Cli


def _attempt(app: FastAPI, n: int) -> int:
    """One browser's whole first run: open the link, post the form."""
    link = f"/first-run?token={first_run.token()}"
    with TestClient(app, client=("127.0.0.1", 40000 + n)) as browser:
        page = browser.get(link, headers={"Host": "127.0.0.1"})
        if page.status_code != 200:
            return int(page.status_code)
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found is not None
        form = {"email": f"root{n}@example.test", "password": "long-enough"}
        answer = browser.post(
            "/first-run",
            data=form | {"csrf": found.group(1), "token": first_run.token()},
            follow_redirects=False,
        )
        return int(answer.status_code)


@pytest.mark.usefixtures("database_url")
def test_six_at_once_make_exactly_one_administrator(postroom_env: Path) -> None:
    app = create_app(workers=False)  # one app, as one server: six browsers at once
    first_run.token()  # the key file is made once, as `serve` does before it answers
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda n: _attempt(app, n), range(6)))
    with unit_of_work() as db:
        admins = list(db.scalars(select(User).where(User.is_admin)))
    assert len(admins) == 1, answers
    assert answers.count(303) == 1


def test_neither_a_local_peer_nor_a_host_header_opens_the_page(app: FastAPI) -> None:
    with TestClient(app, client=("127.0.0.1", 5000)) as local:
        for host in ("127.0.0.1", "localhost", "[::1]"):
            assert local.get("/first-run", headers={"Host": host}).status_code == 404
        proxied = local.get(
            "/first-run", headers={"X-Forwarded-For": "127.0.0.1", "Host": "localhost"}
        )
        assert proxied.status_code == 404


def test_the_cli_prints_the_setup_link_until_an_admin_exists(cli: Cli) -> None:
    shown = cli("first-run-link", "--json")
    assert shown.code == 0
    assert json.loads(shown.stdout)["link"].endswith(f"/first-run?token={first_run.token()}")
    assert (
        cli(
            "user", "add", "root@example.test", "--admin", "--password-stdin", input="long-enough\n"
        ).code
        == 0
    )
    gone = cli("first-run-link")
    assert gone.code == 1 and "An administrator exists" in gone.stderr
