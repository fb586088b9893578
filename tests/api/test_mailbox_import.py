"""POST /api/v1/mailboxes/import: the CLI's import as one call, all or nothing."""

from __future__ import annotations

from tests.api.conftest import PROBLEM, Api


def _server(admin: Api) -> None:
    body = {"name": "in", "protocol": "imap", "host": "imap.example.test", "security": "tls"}
    assert admin.post("/servers", json=body).status_code == 201


def _addresses(api: Api) -> list[str]:
    return sorted(m["address"] for m in api.get("/mailboxes?limit=500").json()["items"])


def test_a_list_of_mailboxes_is_added_in_one_call(admin: Api) -> None:
    _server(admin)
    items = [
        {"address": f"desk{i}@example.test", "system": True, "incoming": "in", "password": "s3"}
        for i in range(3)
    ]
    answer = admin.post("/mailboxes/import", json={"mailboxes": items})
    assert answer.status_code == 201, answer.text
    assert answer.json()["added"] == 3
    assert "s3" not in answer.text  # write-only
    assert _addresses(admin) == ["desk0@example.test", "desk1@example.test", "desk2@example.test"]


def test_a_refused_item_is_named_by_position_and_nothing_is_added(admin: Api) -> None:
    _server(admin)
    items = [
        {"address": "good@example.test", "system": True, "incoming": "in", "password": "s"},
        {"address": "nopassword@example.test", "system": True, "incoming": "in"},
        {"address": "other@example.test", "system": True, "incoming": "nosuch", "password": "s"},
    ]
    answer = admin.post("/mailboxes/import", json={"mailboxes": items})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["type"] == "urn:postroom:problem:rows-rejected"
    assert [r["row"] for r in problem["rows"]] == [2, 3]
    assert "item 2: No password" in problem["detail"]
    assert _addresses(admin) == []


def test_a_user_cannot_import_system_mailboxes(admin: Api, ann: Api) -> None:
    _server(admin)
    items = [{"address": "desk@example.test", "system": True, "incoming": "in", "password": "s"}]
    answer = ann.post("/mailboxes/import", json={"mailboxes": items})
    assert answer.status_code == 422
    assert [r["row"] for r in answer.json()["rows"]] == [1]
    assert _addresses(admin) == []
