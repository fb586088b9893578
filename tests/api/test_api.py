"""The REST API over real mail: Dovecot delivers, the fetch service stores, the API reads and
acts. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from postroom.services import fetching
from postroom.storage.db import default_engine, unit_of_work
from postroom.storage.models import Mailbox
from tests.api.conftest import PROBLEM, Api
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot

pytestmark = pytest.mark.usefixtures("database_url")


def desk(admin: Api, dovecot: Dovecot, workflow: str | None = "Support") -> str:
    """A fresh Dovecot user as a system mailbox, tied to `workflow` when given."""
    address = f"desk-{uuid.uuid4().hex[:8]}@example.test"
    dovecot.add_user(address, "desk-pass-1")
    server = {
        "name": "in",
        "protocol": "imap",
        "host": "127.0.0.1",
        "port": dovecot.imap_port,
        "security": "none",
    }
    assert admin.post("/servers", json=server).status_code == 201
    assert admin.post("/workflows", json={"name": "Support", "steps": ["New", "Triage", "Done"]})
    body = {
        "address": address,
        "system": True,
        "incoming": "in",
        "password": "desk-pass-1",
        "workflow": workflow,
    }
    assert admin.post("/mailboxes", json=body).status_code == 201
    return address


def fetch() -> None:
    runs = fetching.fetch_once(default_engine())
    assert all(run.error is None for run in runs), runs


def test_mail_becomes_requests_listed_filtered_paginated_and_moved(
    admin: Api, dovecot: Dovecot
) -> None:
    address = desk(admin, dovecot)
    dovecot.deliver(address, [email_from(f"c{i}@example.org", f"Printer {i}") for i in range(3)])
    fetch()
    first = admin.get("/requests?workflow=Support&step=Triage&limit=2").json()
    assert [r["subject"] for r in first["items"]] == ["Printer 2", "Printer 1"]
    assert first["next_offset"] == 2
    rest = admin.get("/requests?workflow=Support&limit=2&offset=2").json()
    assert [r["subject"] for r in rest["items"]] == ["Printer 0"] and rest["next_offset"] is None
    target = first["items"][0]["id"]
    moved = admin.post(f"/requests/{target}/move", json={"step": "Done"})
    assert moved.status_code == 200 and moved.json()["step"] == "Done"
    done = admin.get("/requests?workflow=Support&step=Done").json()["items"]
    assert [r["id"] for r in done] == [target]
    detail = admin.get(f"/requests/{target}").json()
    assert detail["thread"][0]["sender"] == "c2@example.org"
    assert "Please help." in detail["thread"][0]["text"]
    wrong = admin.post(f"/requests/{target}/move", json={"step": "Nowhere"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "step"
    assert "New, Triage, Done" in wrong.json()["detail"]
    assert admin.get("/requests?q=Printer 1").json()["items"][0]["subject"] == "Printer 1"


def test_held_mail_opens_a_request_or_joins_one_by_hand(admin: Api, dovecot: Dovecot) -> None:
    address = desk(admin, dovecot, workflow=None)
    dovecot.deliver(
        address,
        [email_from("ann@example.org", "Lost"), email_from("ann@example.org", "Lost, again")],
    )
    fetch()
    held = admin.get("/held").json()["items"]
    assert [(m["subject"], m["reason"]) for m in held] == [
        ("Lost, again", "no-workflow"),
        ("Lost", "no-workflow"),
    ]
    opened = admin.post(f"/held/{held[1]['id']}/open-request", json={"workflow": "Support"})
    assert opened.status_code == 201 and opened.json()["step"] == "Triage"
    request_id = opened.json()["id"]
    joined = admin.post(f"/held/{held[0]['id']}/attach", json={"request": request_id})
    assert [m["subject"] for m in joined.json()["thread"]] == ["Lost", "Lost, again"]
    assert admin.get("/held").json()["items"] == []
    twice = admin.post(f"/held/{held[0]['id']}/reprocess")
    assert twice.status_code == 409 and f"request #{request_id}" in twice.json()["detail"]


def test_a_held_email_without_a_valid_from_shows_its_from_as_written(
    admin: Api, dovecot: Dovecot
) -> None:
    address = desk(admin, dovecot, workflow=None)
    raw = b"From: [??????]\r\nReply-To: Ann <ann@example.org>\r\nSubject: Garbled\r\n\r\nHi\r\n"
    dovecot.deliver(address, [raw])
    fetch()
    [held] = admin.get("/held").json()["items"]
    assert held["sender"] == "ann@example.org"  # the requester: a valid address, from Reply-To
    assert admin.get(f"/held/{held['id']}").json()["from_header"] == "[??????]"


def test_reprocessing_routes_held_mail_once_the_workflow_is_active(
    admin: Api, dovecot: Dovecot
) -> None:
    address = desk(admin, dovecot)
    admin.call("PATCH", "/workflows/Support", json={"active": False})
    dovecot.deliver(address, [email_from("ann@example.org", "While closed")])
    fetch()
    [message] = admin.get("/held?reason=workflow-inactive").json()["items"]
    health = admin.get("/health").json()["mailboxes"]
    assert health[0]["workflow_status"] == "inactive" and health[0]["state"] == "ok"
    admin.call("PATCH", "/workflows/Support", json={"active": True})
    routed = admin.post(f"/held/{message['id']}/reprocess").json()
    assert routed["status"] == "routed" and routed["request"] is not None


def test_errors_are_problem_json_a_person_can_act_on(admin: Api) -> None:
    server = {"name": "in", "protocol": "imap", "host": "127.0.0.1", "security": "none"}
    assert admin.post("/servers", json=server).status_code == 201
    duplicate = admin.post("/servers", json=server)
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == PROBLEM
    assert duplicate.json() == {
        "type": "urn:postroom:problem:conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "A server named 'in' already exists: choose another name.",
    }
    bad = admin.post("/servers", json=server | {"name": "x", "protocol": "pigeon"})
    assert bad.status_code == 422 and bad.json()["field"] == "protocol"
    assert "imap" in bad.json()["detail"]
    shape = admin.post("/servers", json={"name": "x"})
    assert shape.status_code == 422 and shape.json()["field"] == "protocol"
    missing = admin.get("/servers/nope")
    assert missing.status_code == 404 and "server list" in missing.json()["detail"]


def test_a_server_in_use_is_not_removed_and_the_refusal_names_its_mailboxes(
    admin: Api, dovecot: Dovecot
) -> None:
    address = desk(admin, dovecot)
    refused = admin.call("DELETE", "/servers/in")
    assert refused.status_code == 409 and address in refused.json()["detail"]
    assert admin.get("/servers/in").json()["mailboxes"] == [address]


def test_secrets_are_write_only(admin: Api) -> None:
    server = {"name": "out", "protocol": "smtp", "host": "127.0.0.1", "security": "none"}
    admin.post("/servers", json=server)
    made = admin.post(
        "/mailboxes",
        json={"address": "me@example.test", "outgoing": "out", "password": "hunter2-secret"},
    )
    app = admin.post(
        "/oauth-apps",
        json={
            "name": "g",
            "provider": "google",
            "client_id": "id",
            "client_secret": "s3cret-value",
        },
    )
    everything = json.dumps(
        [
            made.json(),
            app.json(),
            admin.get("/mailboxes").json(),
            admin.get("/oauth-apps/g").json(),
            admin.get("/audit").json(),
        ]
    )
    assert made.json()["password_set"] is True and app.json()["client_secret_set"] is True
    assert "hunter2-secret" not in everything and "s3cret-value" not in everything
    with unit_of_work() as db:
        stored = db.scalars(select(Mailbox)).one()
    assert stored.password is not None and b"hunter2-secret" not in stored.password


def test_an_enqueued_email_with_the_same_idempotency_key_is_queued_once(admin: Api) -> None:
    server = {"name": "out", "protocol": "smtp", "host": "127.0.0.1", "security": "none"}
    admin.post("/servers", json=server)
    admin.post(
        "/mailboxes", json={"address": "me@example.test", "outgoing": "out", "password": "pw"}
    )
    email = {
        "sender": "me@example.test",
        "to": ["ann@example.org"],
        "subject": "Invoice",
        "text": "Attached.",
    }
    first = admin.post("/outbox", json=email, headers={"Idempotency-Key": "invoice-7"})
    again = admin.post("/outbox", json=email, headers={"Idempotency-Key": "invoice-7"})
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] and first.json()["state"] == "queued"
    listed = admin.get("/outbox").json()["items"]
    assert [i["id"] for i in listed] == [first.json()["id"]]
    assert admin.get(f"/outbox/{first.json()['id']}").json()["subject"] == "Invoice"
    early = admin.post(f"/outbox/{first.json()['id']}/retry")
    assert early.status_code == 409 and "queued" in early.json()["detail"]


def test_a_reply_goes_out_from_my_default_mailbox_into_the_thread(
    admin: Api, ann: Api, bob: Api, dovecot: Dovecot
) -> None:
    address = desk(admin, dovecot)
    dovecot.deliver(address, [email_from("cust@example.org", "Broken")])
    fetch()
    [request] = admin.get("/requests").json()["items"]
    smtp = {"name": "out", "protocol": "smtp", "host": "127.0.0.1", "security": "none"}
    assert admin.post("/servers", json=smtp).status_code == 201
    ann.post(
        "/mailboxes",
        json={
            "address": "ann@example.test",
            "outgoing": "out",
            "password": "pw",
            "display_name": "Ann",
        },
    )
    hidden = ann.post(f"/requests/{request['id']}/reply", json={"body": "On it."})
    assert hidden.status_code == 404  # not given the workflow: the request is not there
    admin.post("/workflows/Support/members", json={"email": "ann@example.test"})
    sent = ann.post(
        f"/requests/{request['id']}/reply",
        json={"body": "On it."},
        headers={"Idempotency-Key": "r1"},
    )
    assert sent.status_code == 202 and sent.json()["sender"] == "ann@example.test"
    again = ann.post(
        f"/requests/{request['id']}/reply",
        json={"body": "On it."},
        headers={"Idempotency-Key": "r1"},
    )
    assert again.json()["id"] == sent.json()["id"]
    thread = ann.get(f"/requests/{request['id']}").json()["thread"]
    assert [(m["direction"], m["sender"]) for m in thread] == [
        ("in", "cust@example.org"),
        ("out", "ann@example.test"),
    ]
    assert "On it." in thread[1]["text"]
    assert bob.get(f"/requests/{request['id']}").status_code == 404
