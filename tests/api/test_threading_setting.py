"""Who may join a workflow's requests by naming them is an administrator's setting."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.usefixtures("database_url")


def test_only_an_administrator_lets_same_domain_senders_join(admin: Api, ann: Api) -> None:
    assert admin.post("/workflows", json={"name": "Support", "steps": ["New", "Done"]})
    assert admin.get("/workflows/Support").json()["thread_same_domain"] is False
    refused = ann.call("PATCH", "/workflows/Support", json={"thread_same_domain": True})
    assert refused.status_code == 403
    changed = admin.call("PATCH", "/workflows/Support", json={"thread_same_domain": True})
    assert changed.status_code == 200 and changed.json()["thread_same_domain"] is True
    assert changed.json()["active"] is True  # the other setting is left as it was
    audit = admin.get("/audit").json()["items"]
    assert any(e["action"] == "workflow.threading" for e in audit)
