"""Idempotency keys belong to the user who used them, and to the email they were used for; an
outbox item is tagged only with a request its sender may see. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from postroom.storage.db import unit_of_work
from postroom.storage.models import OutboxItem
from tests.api.conftest import PROBLEM, Api
from tests.api.test_api import desk, fetch
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot

pytestmark = pytest.mark.usefixtures("database_url")


def _senders(admin: Api, *users: tuple[Api, str]) -> None:
    server = {"name": "out", "protocol": "smtp", "host": "127.0.0.1", "security": "none"}
    assert admin.post("/servers", json=server).status_code == 201
    for api, address in users:
        body = {"address": address, "outgoing": "out", "password": "pw"}
        assert api.post("/mailboxes", json=body).status_code == 201


def _email(sender: str, subject: str) -> dict[str, Any]:
    return {"sender": sender, "to": ["cust@example.org"], "subject": subject, "text": "Hello."}


def _queued() -> int:
    with unit_of_work() as db:
        return db.scalar(select(func.count()).select_from(OutboxItem)) or 0


def test_another_users_equal_key_queues_their_own_email(admin: Api, ann: Api, bob: Api) -> None:
    _senders(admin, (ann, "ann@example.test"), (bob, "bob@example.test"))
    key = {"Idempotency-Key": "invoice-7"}
    alices = ann.post("/outbox", json=_email("ann@example.test", "Invoice 7"), headers=key)
    bobs = bob.post("/outbox", json=_email("bob@example.test", "Bob's note"), headers=key)
    assert alices.status_code == bobs.status_code == 202
    assert bobs.json()["id"] != alices.json()["id"]
    assert bobs.json()["subject"] == "Bob's note" and bobs.json()["sender"] == "bob@example.test"
    assert bob.get(f"/outbox/{alices.json()['id']}").status_code == 404
    assert _queued() == 2


def test_the_same_key_for_a_different_email_is_a_conflict(admin: Api, ann: Api) -> None:
    _senders(admin, (ann, "ann@example.test"))
    key = {"Idempotency-Key": "invoice-8"}
    first = ann.post("/outbox", json=_email("ann@example.test", "Invoice 8"), headers=key)
    same = ann.post("/outbox", json=_email("ann@example.test", "Invoice 8"), headers=key)
    other = ann.post("/outbox", json=_email("ann@example.test", "Invoice 9"), headers=key)
    assert first.status_code == same.status_code == 202 and same.json()["id"] == first.json()["id"]
    assert other.status_code == 409 and other.headers["content-type"] == PROBLEM
    assert "invoice-8" in other.json()["detail"]
    assert _queued() == 1


def test_a_reply_key_is_the_users_own(admin: Api, ann: Api, bob: Api, dovecot: Dovecot) -> None:
    address = desk(admin, dovecot)
    dovecot.deliver(address, [email_from("cust@example.org", "Broken")])
    fetch()
    [request] = admin.get("/requests").json()["items"]
    _senders(admin, (ann, "ann@example.test"), (bob, "bob@example.test"))
    for user in ("ann@example.test", "bob@example.test"):
        admin.post("/workflows/Support/members", json={"email": user})
    path, key = f"/requests/{request['id']}/reply", {"Idempotency-Key": "r1"}
    alices = ann.post(path, json={"body": "Alice's private answer."}, headers=key)
    bobs = bob.post(path, json={"body": "Bob answers."}, headers=key)
    assert alices.status_code == bobs.status_code == 202
    assert bobs.json()["id"] != alices.json()["id"] and bobs.json()["sender"] == "bob@example.test"
    again = ann.post(path, json={"body": "Alice's private answer."}, headers=key)
    changed = ann.post(path, json={"body": "Something else."}, headers=key)
    assert again.json()["id"] == alices.json()["id"]
    assert changed.status_code == 409
    thread = admin.get(f"/requests/{request['id']}").json()["thread"]
    assert [m["sender"] for m in thread] == [
        "cust@example.org",
        "ann@example.test",
        "bob@example.test",
    ]


def test_an_email_is_tagged_only_with_a_request_its_sender_may_see(
    admin: Api, ann: Api, dovecot: Dovecot
) -> None:
    address = desk(admin, dovecot)
    dovecot.deliver(address, [email_from("cust@example.org", "Secret matter")])
    fetch()
    [request] = admin.get("/requests").json()["items"]
    _senders(admin, (ann, "ann@example.test"))
    tagged = _email("ann@example.test", "Hi") | {"request": request["id"]}
    refused = ann.post("/outbox", json=tagged)
    assert refused.status_code == 404 and refused.headers["content-type"] == PROBLEM
    assert "Secret matter" not in refused.text
    assert _queued() == 0
    admin.post("/workflows/Support/members", json={"email": "ann@example.test"})
    allowed = ann.post("/outbox", json=tagged)
    assert allowed.status_code == 202 and allowed.json()["request"] == request["id"]
