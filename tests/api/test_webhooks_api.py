"""Webhooks over the REST API: administrators only, the secret in the answer to add and
rotate-secret alone, and a test delivery to a real receiver on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.api.conftest import PROBLEM, Api
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
