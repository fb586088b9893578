"""Workflow steps and OAuth apps changed over the API and in the console: requests keep their
step, a busy step or an app in use is refused with what is in the way, a secret never shows."""

from __future__ import annotations

from fastapi.testclient import TestClient

from postroom.services import workflows
from postroom.storage.db import unit_of_work
from postroom.storage.models import Request
from tests.api.conftest import PROBLEM, Api
from tests.api.test_sign_in import sign_in


def _request_on(workflow: str, step: str) -> None:
    with unit_of_work() as db:
        row = workflows.get(db, workflow)
        on = next(s for s in row.steps if s.name == step)
        db.add(Request(workflow_id=row.id, step_id=on.id, subject=f"on {step}"))


def test_steps_change_over_the_api_and_a_busy_step_stays(admin: Api, ann: Api) -> None:
    admin.post("/workflows", json={"name": "Support", "steps": ["New", "Triage", "Done"]})
    _request_on("Support", "Triage")
    changed = admin.call("PUT", "/workflows/Support/steps", json={"steps": ["New", "Triage=Doing"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["steps"] == ["New", "Doing"]
    refused = admin.call("PUT", "/workflows/Support/steps", json={"steps": ["New"]})
    assert refused.status_code == 409 and refused.headers["content-type"] == PROBLEM
    assert "'Doing' of Support has 1 request(s)" in refused.json()["detail"]
    assert ann.call("PUT", "/workflows/Support/steps", json={"steps": ["X"]}).status_code == 403
    assert admin.get("/workflows/Support").json()["steps"] == ["New", "Doing"]


def test_an_oauth_app_is_changed_and_removed_over_the_api(admin: Api) -> None:
    app = {"name": "m365", "provider": "microsoft", "client_id": "id-1", "client_secret": "s-1"}
    assert admin.post("/oauth-apps", json=app).status_code == 201
    changed = admin.call(
        "PUT", "/oauth-apps/m365", json=app | {"client_secret": None, "tenant": "t"}
    )
    assert changed.status_code == 200
    assert changed.json()["client_secret_set"] is True and "s-1" not in changed.text
    admin.post("/servers", json={"name": "in", "protocol": "imap", "host": "imap.example.test"})
    admin.post(
        "/mailboxes",
        json={
            "address": "desk@example.test",
            "incoming": "in",
            "system": True,
            "oauth_app": "m365",
        },
    )
    assert admin.get("/oauth-apps/m365").json()["mailboxes"] == ["desk@example.test"]
    refused = admin.call("DELETE", "/oauth-apps/m365")
    assert refused.status_code == 409 and "desk@example.test" in refused.json()["detail"]
    admin.call("DELETE", "/mailboxes/desk@example.test", params={"reason": "moved"})
    assert admin.call("DELETE", "/oauth-apps/m365").status_code == 204
    assert admin.get("/oauth-apps/m365").status_code == 404


def test_the_console_edits_steps_and_oauth_apps_with_errors_beside_them(
    client: TestClient, admin: Api
) -> None:
    csrf = sign_in(client, admin.email)
    admin.post("/workflows", json={"name": "Support", "steps": ["New", "Triage"]})
    _request_on("Support", "Triage")
    saved = client.post(
        "/workflows/Support/steps", data={"csrf": csrf, "steps": "Triage, New, Done"}
    )
    assert "The steps were saved" in saved.text
    assert admin.get("/workflows/Support").json()["steps"] == ["Triage", "New", "Done"]
    refused = client.post("/workflows/Support/steps", data={"csrf": csrf, "steps": "New"})
    assert refused.status_code == 422
    assert "has 1 request(s)" in refused.text and 'role="alert"' in refused.text

    admin.post(
        "/oauth-apps",
        json={"name": "g", "provider": "google", "client_id": "id-1", "client_secret": "hidden-1"},
    )
    page = client.get("/settings/oauth-apps/g")
    assert "Edit OAuth app g" in page.text and "hidden-1" not in page.text
    form = {"csrf": csrf, "name": "g", "provider": "google", "client_id": "id-2"}
    assert "The OAuth app was saved" in client.post("/settings/oauth-apps/g", data=form).text
    shown = admin.get("/oauth-apps/g").json()
    assert (shown["client_id"], shown["client_secret_set"]) == ("id-2", True)
    assert (
        "The OAuth app was removed"
        in client.post("/settings/oauth-apps/g/remove", data={"csrf": csrf}).text
    )
