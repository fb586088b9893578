"""The console actions the seed stories added are an administrator's, checked first: removing
a workflow (a reason required) and testing an unsaved system mailbox."""

from __future__ import annotations

from fastapi.testclient import TestClient

from postroom.services import workflows
from postroom.storage.db import unit_of_work
from tests.api.conftest import Api
from tests.api.test_sign_in import sign_in


def _status(name: str) -> str:
    with unit_of_work() as db:
        return workflows.get(db, name, include_deleted=True).status


def test_only_an_administrator_removes_a_workflow_and_only_with_a_reason(
    client: TestClient, admin: Api, ann: Api
) -> None:
    admin.post("/workflows", json={"name": "Support", "steps": ["New", "Triage"]})
    csrf = sign_in(client, ann.email)
    refused = client.post(
        "/workflows/Support/remove",
        data={"csrf": csrf, "reason": "mine now"},
        follow_redirects=False,
    )
    assert refused.status_code == 403 and "removed" not in refused.text
    assert _status("Support") == "active"

    client.post("/sign-out", data={"csrf": csrf})
    csrf = sign_in(client, admin.email)
    blank = client.post("/workflows/Support/remove", data={"csrf": csrf, "reason": " "})
    assert blank.status_code == 422 and "reason" in blank.text.lower()
    assert _status("Support") == "active"
    done = client.post(
        "/workflows/Support/remove",
        data={"csrf": csrf, "reason": "merged into Helpdesk"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and _status("Support") == "deleted"


def test_testing_an_unsaved_system_mailbox_is_an_administrators_and_says_what_is_missing(
    client: TestClient, admin: Api, ann: Api
) -> None:
    admin.post("/servers", json={"name": "in", "protocol": "imap", "host": "127.0.0.1"})
    csrf = sign_in(client, ann.email)
    form = {"csrf": csrf, "address": "desk@example.test", "incoming": "in", "password": "pw"}
    refused = client.post("/settings/mailboxes/test", data=form)
    assert "passed" not in refused.text and "failed" not in refused.text
    assert "Only administrators may test system mailboxes" in refused.text

    client.post("/sign-out", data={"csrf": csrf})
    csrf = sign_in(client, admin.email)
    nothing = client.post(
        "/settings/mailboxes/test", data={"csrf": csrf, "address": "desk@example.test"}
    )
    assert "Choose an incoming or outgoing server to test." in nothing.text
    unknown = client.post(
        "/settings/mailboxes/test",
        data={"csrf": csrf, "address": "desk@example.test", "incoming": "nowhere"},
    )
    assert "nowhere" in unknown.text and "passed" not in unknown.text
