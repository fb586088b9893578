"""Retention over the REST API and in the console's Email inbox: anyone signed in reads it,
only administrators change it or purge, and each change is in the audit log."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Api
from tests.api.test_console_pages import field_error
from tests.api.test_sign_in import sign_in


def test_administrators_change_retention_and_others_only_read_it(admin: Api, ann: Api) -> None:
    shown = {r["reason"]: r for r in ann.get("/retention").json()["items"]}
    assert shown["auto-reply"]["days"] == 30 and shown["unparseable"]["days"] is None

    refused = ann.call("PUT", "/retention/auto-reply", json={"days": 1})
    assert refused.status_code == 403
    assert ann.post("/retention/purge").status_code == 403

    changed = admin.call("PUT", "/retention/auto-reply", json={"days": 7})
    assert changed.status_code == 200, changed.text
    assert changed.json()["days"] == 7 and changed.json()["updated_by"] == "admin@example.test"
    off = admin.call("PUT", "/retention/bounce", json={"days": None})
    assert off.status_code == 200 and off.json()["days"] is None
    assert admin.call("PUT", "/retention/spam", json={"days": 3}).status_code == 422
    assert admin.call("PUT", "/retention/bounce", json={"days": 0}).status_code == 422

    log = [e for e in admin.get("/audit").json()["items"] if e["action"] == "retention.set"]
    assert [(e["target"], e["details"]["days"]) for e in log] == [
        ("bounce", None),
        ("auto-reply", 7),
    ]
    assert admin.post("/retention/purge?dry_run=true").json() == {
        "dry_run": True,
        "purged": 0,
        "by_reason": {},
    }


def test_the_inbox_shows_retention_and_an_administrator_changes_it(
    client: TestClient, admin: Api
) -> None:
    csrf = sign_in(client, admin.email)
    page = client.get("/inbox")
    assert "How long held mail is kept" in page.text and "Save the retention" in page.text

    wrong = client.post(
        "/inbox/retention", data={"csrf": csrf, "held_reason": "bounce", "days": "0"}
    )
    assert wrong.status_code == 422
    assert "between 1 and" in field_error(wrong.text, "days")

    saved = client.post(
        "/inbox/retention", data={"csrf": csrf, "held_reason": "list-mail", "days": "3"}
    )
    assert saved.status_code == 200 and "The retention was saved" in saved.text
    shown = {r["reason"]: r["days"] for r in admin.get("/retention").json()["items"]}
    assert shown["list-mail"] == 3

    kept = client.post("/inbox/retention", data={"csrf": csrf, "held_reason": "list-mail"})
    assert kept.status_code == 200
    assert {r["reason"]: r["days"] for r in admin.get("/retention").json()["items"]}[
        "list-mail"
    ] is None


def test_a_user_sees_retention_but_no_form_and_a_forged_post_is_refused(
    client: TestClient, ann: Api
) -> None:
    csrf = sign_in(client, ann.email)
    page = client.get("/inbox")
    assert "How long held mail is kept" in page.text and "Save the retention" not in page.text
    forged = client.post(
        "/inbox/retention", data={"csrf": csrf, "held_reason": "bounce", "days": "1"}
    )
    assert forged.status_code == 422
    assert "Only administrators may change how long held mail is kept" in forged.text
