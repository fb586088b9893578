"""One rule set for who may do what, walked as a matrix: role × endpoint × owner. Refusals are
403 for what a user may never do, and 404 for another user's mailbox: its existence is never
revealed, so the answer is the very one a mailbox that does not exist gets."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PROBLEM, Api

# (method, path, JSON body); {who} makes names unique to the caller, so each may succeed once.
ADMIN_ONLY: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/servers", None),
    ("POST", "/servers", {"name": "s-{who}", "protocol": "imap", "host": "127.0.0.1"}),
    ("GET", "/servers/in", None),
    ("PUT", "/servers/spare", {"name": "spare", "protocol": "smtp", "host": "127.0.0.1"}),
    ("DELETE", "/servers/gone-{who}", None),
    ("GET", "/oauth-apps", None),
    ("POST", "/oauth-apps", {"name": "a-{who}", "provider": "google", "client_id": "id"}),
    ("GET", "/connections", None),
    ("POST", "/connections", {"name": "c-{who}", "mailbox": "desk@example.test"}),
    ("POST", "/workflows", {"name": "w-{who}", "steps": ["New", "Done"]}),
    ("PATCH", "/workflows/Support", {"active": True}),
    ("POST", "/workflows/Support/members", {"email": "bob@example.test"}),
    ("GET", "/users", None),
    ("POST", "/users", {"email": "u-{who}@example.test", "password": "password-9"}),
    ("GET", "/audit", None),
    (
        "POST",
        "/mailboxes",
        {"address": "sys-{who}@example.test", "system": True, "outgoing": "out", "password": "pw"},
    ),
    (
        "POST",
        "/mailboxes",
        {
            "address": "for-{who}@example.test",
            "owner": "admin@example.test",
            "outgoing": "out",
            "password": "pw",
        },
    ),
    (
        "POST",
        "/outbox",
        {"sender": "desk@example.test", "to": ["x@example.org"], "connection": "desk-route"},
    ),
]
EVERYONE: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/me", None),
    ("GET", "/workflows", None),
    ("GET", "/workflows/Support", None),
    ("GET", "/mailboxes", None),
    ("GET", "/requests", None),
    ("GET", "/held", None),
    ("GET", "/outbox", None),
    ("GET", "/health", None),
    ("GET", "/me/tokens", None),
]
# What a mailbox's owner may do to it; {address} and {owner} are filled in per case.
MAILBOX_ACTIONS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/mailboxes/{address}{owner}", None),
    ("PATCH", "/mailboxes/{address}{owner}", {"display_name": "Mine"}),
    ("POST", "/mailboxes/{address}/default{owner}", None),
    ("POST", "/mailboxes/{address}/reconnect{owner}", {"password": "new-secret"}),
    ("DELETE", "/mailboxes/{address}{owner}&reason=done", None),
]


def _filled(body: dict[str, Any] | None, who: str) -> dict[str, Any] | None:
    if body is None:
        return None
    return {k: v.replace("{who}", who) if isinstance(v, str) else v for k, v in body.items()}


@pytest.fixture
def world(admin: Api, ann: Api, bob: Api) -> dict[str, Api]:
    for server in (
        {"name": "in", "protocol": "imap", "host": "127.0.0.1", "port": 9, "security": "none"},
        {"name": "out", "protocol": "smtp", "host": "127.0.0.1", "port": 9, "security": "none"},
        {"name": "spare", "protocol": "smtp", "host": "127.0.0.1", "port": 9, "security": "none"},
    ):
        assert admin.post("/servers", json=server).status_code == 201
    assert admin.post("/workflows", json={"name": "Support", "steps": ["New", "Done"]}).is_success
    desk = {
        "address": "desk@example.test",
        "system": True,
        "incoming": "in",
        "outgoing": "out",
        "password": "pw",
        "workflow": "Support",
    }
    assert admin.post("/mailboxes", json=desk).status_code == 201
    route = {"name": "desk-route", "mailbox": "desk@example.test"}
    assert admin.post("/connections", json=route).status_code == 201
    for user in (ann, bob):
        own = {"address": "shared@example.test", "outgoing": "out", "password": "pw"}
        assert user.post("/mailboxes", json=own).status_code == 201
    mine = {"address": "ann-only@example.test", "outgoing": "out", "password": "pw"}
    assert ann.post("/mailboxes", json=mine).status_code == 201
    return {"admin": admin, "ann": ann, "bob": bob}


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY + EVERYONE)
def test_without_credentials_every_endpoint_answers_401(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    answer = client.request(method, "/api/v1" + path, json=_filled(body, "anon"))
    assert answer.status_code == 401
    assert answer.headers["content-type"] == PROBLEM
    assert "Sign in first" in answer.json()["detail"]


def test_users_are_refused_what_only_administrators_may_do(world: dict[str, Api]) -> None:
    for method, path, body in ADMIN_ONLY:
        for who in ("ann", "bob"):
            answer = world[who].call(method, path.replace("{who}", who), json=_filled(body, who))
            assert answer.status_code == 403, (method, path, who, answer.text)
            assert answer.headers["content-type"] == PROBLEM
            assert "manage administration" in answer.json()["detail"]


def test_administrators_may_do_it_all(world: dict[str, Api]) -> None:
    for method, path, body in ADMIN_ONLY + EVERYONE:
        answer = world["admin"].call(
            method, path.replace("{who}", "admin"), json=_filled(body, "admin")
        )
        expected = 404 if "/gone-" in path else None
        assert (answer.status_code == expected) if expected else answer.is_success, (
            method,
            path,
            answer.text,
        )


def test_everyone_signed_in_may_read_their_own_view(world: dict[str, Api]) -> None:
    for method, path, _ in EVERYONE:
        for who in ("ann", "bob"):
            assert world[who].call(method, path).status_code == 200, (path, who)
    listed = {m["address"] for m in world["ann"].get("/mailboxes").json()["items"]}
    assert listed == {"shared@example.test", "ann-only@example.test"}
    health = {m["address"] for m in world["bob"].get("/health").json()["mailboxes"]}
    assert health == {"shared@example.test"}


def _ask(
    api: Api, method: str, path: str, body: dict[str, Any] | None, address: str, owner: str | None
) -> Any:
    query = f"?owner={owner}" if owner else "?"
    return api.call(method, path.replace("{address}", address).replace("{owner}", query), json=body)


@pytest.mark.parametrize(("method", "path", "body"), MAILBOX_ACTIONS)
def test_another_users_mailbox_is_answered_exactly_as_one_that_does_not_exist(
    world: dict[str, Api], method: str, path: str, body: dict[str, Any] | None
) -> None:
    bob, ann = world["bob"], world["ann"]
    for owner in (None, "ann@example.test"):
        theirs = _ask(bob, method, path, body, "ann-only@example.test", owner)
        missing = _ask(
            bob, method, path, body, "nobody@example.test", "nobody@example.test" if owner else None
        )
        assert theirs.status_code == missing.status_code == 404, theirs.text
        assert theirs.json()["detail"].replace("ann-only", "nobody") == missing.json()["detail"]
    system = _ask(ann, method, path, body, "desk@example.test", None)
    assert system.status_code == 404  # a system mailbox is not a user's either
    assert (
        "reconnect" in path
        or _ask(ann, method, path, body, "ann-only@example.test", None).is_success
    )
    shown = world["admin"].get("/mailboxes/ann-only@example.test?owner=ann@example.test")
    assert shown.status_code == 200 or method == "DELETE"


def test_the_same_address_added_by_two_users_stays_each_ones_own(world: dict[str, Api]) -> None:
    renamed = world["ann"].call(
        "PATCH", "/mailboxes/shared@example.test", json={"display_name": "Ann's"}
    )
    assert renamed.json()["owner"] == "ann@example.test"
    bobs = world["bob"].get("/mailboxes/shared@example.test").json()
    assert bobs["owner"] == "bob@example.test" and bobs["display_name"] == ""


def test_requests_are_seen_only_in_the_workflows_a_user_is_given(world: dict[str, Api]) -> None:
    admin = world["admin"]
    given = admin.post("/workflows/Support/members", json={"email": "ann@example.test"})
    assert given.status_code == 204
    assert admin.get("/workflows/Support").json()["members"] == ["ann@example.test"]
    assert world["bob"].get("/requests?workflow=Support").json()["items"] == []
