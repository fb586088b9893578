"""Webhooks over the REST API: administrators only, the secret in the answer to add and
rotate-secret alone, and a test delivery to a real receiver on loopback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PROBLEM, Api
from tests.api.test_sign_in import sign_in
from tests.servers.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.usefixtures("database_url")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def test_an_admin_adds_tests_lists_and_removes_a_webhook(
    admin: Api, receiver: WebhookReceiver
) -> None:
    body = {"name": "crm", "url": receiver.url, "events": ["request.opened", "outbox.sent"]}
    added = admin.post("/webhooks", json=body)
    assert added.status_code == 201
    secret = added.json()["secret"]
    assert secret.startswith("whsec_") and added.json()["secret_set"] is True

    tested = admin.post("/webhooks/crm/test")
    assert tested.status_code == 200 and tested.json()["state"] == "delivered"
    [request] = receiver.received
    assert request.headers["postroom-event"] == "webhook.test"
    assert json.loads(request.body)["data"] == {"webhook": "crm"}

    answers = [
        admin.get("/webhooks").text,
        admin.get("/webhooks/crm").text,
        admin.get("/webhooks/deliveries").text,
        admin.get(f"/webhooks/deliveries/{tested.json()['id']}").text,
    ]
    assert all(secret not in text for text in answers)
    assert admin.get("/webhooks").json()["items"][0]["events"] == ["outbox.sent", "request.opened"]

    off = admin.call("PATCH", "/webhooks/crm", json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    rotated = admin.post("/webhooks/crm/rotate-secret").json()["secret"]
    assert rotated != secret
    assert admin.call("DELETE", "/webhooks/crm").status_code == 204
    assert admin.get("/webhooks/crm").status_code == 404


def test_a_user_may_not_see_or_add_webhooks(ann: Api) -> None:
    body = {"name": "mine", "url": "https://crm.example/hook", "events": ["*"]}
    refused = ann.post("/webhooks", json=body)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    assert ann.get("/webhooks").status_code == 403
    assert ann.get("/webhooks/deliveries").status_code == 403


def test_a_url_with_credentials_is_refused_with_the_field(admin: Api) -> None:
    body = {"name": "crm", "url": "https://u:p@crm.example/hook", "events": ["*"]}
    refused = admin.post("/webhooks", json=body)
    assert refused.status_code in (400, 422)
    assert "no user name or password" in refused.text


def test_the_console_adds_tests_and_removes_a_webhook_showing_the_secret_once(
    client: TestClient, admin: Api, receiver: WebhookReceiver
) -> None:
    csrf = sign_in(client, admin.email)
    form = {"csrf": csrf, "name": "crm", "url": receiver.url, "events": "request.opened, *"}
    added = client.post("/settings/webhooks", data=form)
    assert added.status_code == 200
    found = re.search(r'<code id="webhook-secret">(whsec_[^<]+)</code>', added.text)
    assert found is not None
    secret = found.group(1)
    page = client.get("/settings/webhooks")
    assert "crm" in page.text and secret not in page.text

    tested = client.post("/settings/webhooks/crm/test", data={"csrf": csrf})
    assert "The test event was delivered" in tested.text
    assert receiver.received[0].headers["postroom-event"] == "webhook.test"
    assert secret not in tested.text

    bad = client.post("/settings/webhooks", data=form | {"name": "x", "url": "ftp://x/"})
    assert bad.status_code == 422 and 'value="ftp://x/"' in bad.text
    removed = client.post("/settings/webhooks/crm/remove", data={"csrf": csrf})
    assert "The webhook was removed." in removed.text
    assert admin.get("/webhooks").json()["items"] == []


def test_a_user_is_refused_the_console_page(client: TestClient, ann: Api) -> None:
    sign_in(client, ann.email)
    assert client.get("/settings/webhooks").status_code == 403
