"""Administering users through the REST API, on SQLite and PostgreSQL: each change takes
effect where it matters (sign-in, API tokens, sessions, requests seen) and the rules that keep
postroom administrable hold."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from postroom.errors import NotSignedIn
from postroom.services import auth
from postroom.storage.db import default_engine, unit_of_work
from postroom.storage.models import AuditEntry, Mailbox, User
from tests.api.conftest import PROBLEM, Api

pytestmark = pytest.mark.usefixtures("database_url")


def owners() -> dict[str, str]:
    with unit_of_work() as db:
        rows = db.execute(
            select(Mailbox.address, User.email).join(User, User.id == Mailbox.owner_id)
        )
        return {address: email for address, email in rows}


def test_a_disabled_user_cannot_sign_in_and_their_token_is_refused_until_enabled(
    admin: Api, ann: Api, bob: Api
) -> None:
    session = auth.sign_in(default_engine(), "ann@example.test", "password-1", "10.0.0.1")
    assert ann.get("/me").status_code == 200
    assert bob.post("/users/ann@example.test/disable").status_code == 403  # not an admin

    disabled = admin.post("/users/ann@example.test/disable")
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    refused = ann.get("/me")
    assert refused.status_code == 401 and refused.headers["content-type"] == PROBLEM
    with unit_of_work() as db:
        assert auth.session_for(db, session.session_id) is None  # signed out everywhere
    with pytest.raises(NotSignedIn, match="disabled"):
        auth.sign_in(default_engine(), "ann@example.test", "password-1", "10.0.0.1")
    with pytest.raises(NotSignedIn, match="wrong"):  # a wrong password learns nothing more
        auth.sign_in(default_engine(), "ann@example.test", "guess-123", "10.0.0.2")

    assert admin.post("/users/ann@example.test/enable").json()["disabled"] is False
    assert ann.get("/me").status_code == 200
    auth.sign_in(default_engine(), "ann@example.test", "password-1", "10.0.0.3")


def test_postroom_always_keeps_an_administrator_who_can_sign_in(admin: Api, bob: Api) -> None:
    for method, path, body in (
        ("POST", "/users/admin@example.test/disable", None),
        ("PUT", "/users/admin@example.test/role", {"admin": False}),
        ("DELETE", "/users/admin@example.test?reason=bye", None),
    ):
        refused = admin.call(method, path, json=body)
        assert refused.status_code == 409, (path, refused.text)
    assert (
        "last administrator"
        in admin.call("PUT", "/users/admin@example.test/role", json={"admin": False}).json()[
            "detail"
        ]
    )

    assert admin.call("PUT", "/users/bob@example.test/role", json={"admin": True}).json()["admin"]
    # Now another administrator exists: demoting oneself is allowed, removing oneself is not.
    assert (
        admin.call("PUT", "/users/admin@example.test/role", json={"admin": False}).status_code
        == 200
    )
    assert bob.call("DELETE", "/users/bob@example.test", params={"reason": "x"}).status_code == 409
    # Bob is the last one now: he cannot be disabled by anyone.
    assert bob.post("/users/bob@example.test/disable").status_code == 409


def test_a_reset_password_must_be_changed_and_ends_sessions(admin: Api, ann: Api) -> None:
    before = auth.sign_in(default_engine(), "ann@example.test", "password-1", "10.0.0.1")
    reset = admin.post("/users/ann@example.test/password-reset").json()
    assert reset["must_change_password"] is True and len(reset["password"]) >= 12
    with unit_of_work() as db:
        assert auth.session_for(db, before.session_id) is None
    signed = auth.sign_in(default_engine(), "ann@example.test", reset["password"], "10.0.0.1")
    assert signed.must_change_password
    with pytest.raises(NotSignedIn):
        auth.sign_in(default_engine(), "ann@example.test", "password-1", "10.0.0.2")

    short = admin.call("PUT", "/users/ann@example.test/password", json={"password": "short"})
    assert short.status_code == 422 and short.json()["field"] == "password"
    chosen = {"password": "chosen-by-admin", "must_change": False}
    assert admin.call("PUT", "/users/ann@example.test/password", json=chosen).status_code == 200
    assert not auth.sign_in(
        default_engine(), "ann@example.test", "chosen-by-admin", "10.0.0.3"
    ).must_change_password
    with unit_of_work() as db:
        actions = list(
            db.scalars(select(AuditEntry.action).where(AuditEntry.target == "ann@example.test"))
        )
    assert actions.count("user.password-set") == 2


def test_workflows_given_are_what_the_user_sees(admin: Api, ann: Api) -> None:
    for name in ("Support", "Sales"):
        admin.post("/workflows", json={"name": name, "steps": ["New", "Done"]})
    given = admin.call("PUT", "/users/ann@example.test/workflows", json={"workflows": ["Sales"]})
    assert given.json()["workflows"] == ["Sales"]
    unknown = admin.call(
        "PUT", "/users/ann@example.test/workflows", json={"workflows": ["Support", "Nope"]}
    )
    assert unknown.status_code == 404
    assert admin.get("/users/ann@example.test").json()["workflows"] == ["Sales"]  # unchanged
    swapped = admin.call(
        "PUT", "/users/ann@example.test/workflows", json={"workflows": ["Support"]}
    )
    assert swapped.json()["workflows"] == ["Support"]
    assert (
        ann.call("PUT", "/users/ann@example.test/workflows", json={"workflows": []}).status_code
        == 403
    )


def test_removing_a_user_removes_or_hands_over_their_mailboxes(
    admin: Api, ann: Api, bob: Api
) -> None:
    smtp = {"name": "out", "protocol": "smtp", "host": "127.0.0.1", "security": "none"}
    assert admin.post("/servers", json=smtp).status_code == 201
    for who, address in (
        (ann, "ann@example.test"),
        (ann, "shared@example.test"),
        (bob, "bob@example.test"),
        (bob, "shared@example.test"),
    ):
        body = {"address": address, "outgoing": "out", "password": "pw"}
        assert who.post("/mailboxes", json=body).status_code == 201
    assert admin.call("DELETE", "/users/ann@example.test").status_code == 422  # no reason given

    clash = admin.call(
        "DELETE",
        "/users/ann@example.test",
        params={"reason": "left", "mailboxes": "hand-over", "to": "bob@example.test"},
    )
    assert clash.status_code == 409 and "shared@example.test" in clash.json()["detail"]
    assert ann.get("/me").status_code == 200  # nothing changed

    assert (
        bob.call("DELETE", "/mailboxes/shared@example.test", params={"reason": "dup"}).status_code
        == 204
    )
    handed = admin.call(
        "DELETE",
        "/users/ann@example.test",
        params={"reason": "left", "mailboxes": "hand-over", "to": "bob@example.test"},
    )
    assert handed.status_code == 204
    assert owners() == {
        "ann@example.test": "bob@example.test",
        "shared@example.test": "bob@example.test",
        "bob@example.test": "bob@example.test",
    }
    assert ann.get("/me").status_code == 401
    assert bob.get("/mailboxes").json()["items"]  # he sees them as his own

    removed = admin.call("DELETE", "/users/bob@example.test", params={"reason": "left too"})
    assert removed.status_code == 204 and owners() == {}
    with unit_of_work() as db:
        reasons = set(
            db.scalars(select(AuditEntry.reason).where(AuditEntry.action == "mailbox.removed"))
        )
    assert "left too" in reasons
