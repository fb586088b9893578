"""Sending limits through the API and the console: the server form sets them, blank means the
provider's documented limit, and the outbox page says why an email waits."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from postroom.storage.db import default_engine
from postroom.storage.models import OutboxItem, utcnow
from tests.api.conftest import Api
from tests.api.test_sign_in import sign_in

FORM = {
    "protocol": "smtp",
    "security": "starttls",
    "port": "587",
    "connect_timeout": "15",
    "timeout": "60",
    "login_format": "address",
}


def test_the_api_sets_limits_and_leaves_the_providers_when_absent(admin: Api) -> None:
    made = admin.post(
        "/servers", json={"name": "m365", "protocol": "smtp", "host": "smtp.office365.com"}
    ).json()
    assert (made["send_rate"], made["recipients_per_day"]) == ("30/min", 10_000)
    body = {"name": "m365", "protocol": "smtp", "host": "smtp.office365.com",
            "send_rate": "10/min", "recipients_per_day": 0}  # fmt: skip
    changed = admin.call("PUT", "/servers/m365", json=body).json()
    assert (changed["send_rate"], changed["recipients_per_day"]) == ("10/min", None)
    refused = admin.call("PUT", "/servers/m365", json=body | {"send_rate": "often"})
    assert refused.status_code == 422 and "30/min" in refused.text


def test_the_console_form_sets_limits_and_shows_them_when_editing(
    client: TestClient, admin: Api
) -> None:
    csrf = sign_in(client, admin.email)
    form = FORM | {"csrf": csrf, "name": "gmail-smtp", "host": "smtp.gmail.com"}
    assert client.post("/settings/servers/new", data=form | {"send_rate": ""}).status_code == 200
    assert admin.get("/servers/gmail-smtp").json()["send_rate"] == "2000/day"
    saved = client.post(
        "/settings/servers/gmail-smtp",
        data=form | {"send_rate": "500/day", "recipients_per_day": "500"},
    )
    assert saved.status_code == 200
    shown = admin.get("/servers/gmail-smtp").json()
    assert (shown["send_rate"], shown["recipients_per_day"]) == ("500/day", 500)
    page = client.get("/settings/servers/gmail-smtp").text
    assert 'value="500/day"' in page and 'value="500"' in page
    wrong = client.post("/settings/servers/gmail-smtp", data=form | {"send_rate": "lots"})
    assert wrong.status_code == 422 and 'id="send_rate-error"' in wrong.text


def test_the_outbox_page_says_an_email_waits_for_the_providers_limit(
    client: TestClient, admin: Api
) -> None:
    admin.post("/servers", json={"name": "out", "protocol": "smtp", "host": "127.0.0.1"})
    admin.post(
        "/mailboxes",
        json={"address": "desk@example.test", "system": True, "outgoing": "out", "password": "p"},
    )
    item = admin.post(
        "/outbox", json={"sender": "desk@example.test", "to": ["ann@example.org"]}
    ).json()
    at = utcnow() + timedelta(minutes=3)
    with default_engine().begin() as connection:  # as the limiter leaves it
        connection.execute(
            update(OutboxItem)
            .where(OutboxItem.id == item["id"])
            .values(state="deferred", next_attempt_at=at, wait_reason="30/min")
        )
    sign_in(client, admin.email)
    page = client.get("/outbox").text
    hhmm = at.astimezone().strftime("%H:%M")
    assert f"waiting for the provider&#39;s limit: next at {hhmm} (30/min)" in page
    listed = admin.get("/outbox").json()["items"][0]
    assert listed["state"] == "deferred" and listed["wait_reason"] == "30/min"
