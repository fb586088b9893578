"""The Doctor page and the metrics tokens under My profile, in the console."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox
from tests.api.conftest import Api
from tests.api.test_sign_in import sign_in


def _stale_mailboxes(admin: Api, ann: Api) -> None:
    assert (
        admin.post(
            "/servers",
            json={"name": "in", "protocol": "imap", "host": "127.0.0.1", "security": "none"},
        ).status_code
        == 201
    )
    for api, address, system in (
        (admin, "desk@example.test", True),
        (ann, "ann@example.test", False),
    ):
        made = api.post(
            "/mailboxes",
            json={"address": address, "system": system, "incoming": "in", "password": "pw"},
        )
        assert made.status_code == 201, made.text
    with unit_of_work() as db:  # neither fetched for an hour, at a 60 s poll interval
        db.execute(update(Mailbox).values(created_at=datetime.now(UTC) - timedelta(hours=1)))


def test_the_doctor_page_shows_administrators_everything_and_users_their_own(
    client: TestClient, admin: Api, ann: Api
) -> None:
    _stale_mailboxes(admin, ann)
    sign_in(client, admin.email)
    page = client.get("/doctor")
    assert page.status_code == 200
    assert "mailbox desk@example.test" in page.text and "mailbox ann@example.test" in page.text
    assert "postroom mailbox test desk@example.test" in page.text
    assert 'aria-current="page">Doctor<' in page.text

    client.cookies.clear()
    sign_in(client, ann.email)
    page = client.get("/doctor")
    assert "mailbox ann@example.test" in page.text
    assert "desk@example.test" not in page.text


def test_an_administrator_makes_a_metrics_token_under_my_profile_that_reads_metrics_only(
    client: TestClient, admin: Api, ann: Api
) -> None:
    csrf = sign_in(client, admin.email)
    assert "/profile/metrics-tokens" in client.get("/profile/tokens").text
    made = client.post("/profile/metrics-tokens", data={"csrf": csrf, "name": "prometheus"})
    assert made.status_code == 200
    found = re.search(r'id="new-token">([^<]+)<', made.text)
    assert found is not None
    token = found.group(1)
    assert '<th scope="col">Made by</th>' in made.text
    assert 'aria-label="Revoke metrics token prometheus"' in made.text
    revoke = re.search(r'action="(/profile/metrics-tokens/\d+/revoke)"', made.text)
    assert revoke is not None
    bearer = {"Authorization": f"Bearer {token}"}
    client.cookies.clear()
    assert client.get("/metrics", headers=bearer).status_code == 200
    assert client.get("/api/v1/mailboxes", headers=bearer).status_code == 401

    csrf = sign_in(client, admin.email)
    revoked = client.post(revoke.group(1), data={"csrf": csrf}, follow_redirects=False)
    assert revoked.status_code == 303
    assert "revoked" in client.get("/profile/metrics-tokens").text
    client.cookies.clear()
    assert client.get("/metrics", headers=bearer).status_code == 401

    client.cookies.clear()
    csrf = sign_in(client, ann.email)
    assert "/profile/metrics-tokens" not in client.get("/profile/tokens").text
    refused = client.post("/profile/metrics-tokens", data={"csrf": csrf, "name": "mine"})
    assert refused.status_code == 403
    assert "Only administrators may" in refused.text
    assert client.get("/profile/metrics-tokens").status_code == 403
