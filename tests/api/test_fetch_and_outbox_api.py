"""Fetch now and the outbox's cancel and filters through the REST API, against a real Dovecot
and a real SMTP server: a user acts on their own mailboxes only, another user's answers 404
exactly as one that does not exist, and a refused action changes nothing; a deferred email is
found by its state and retried at once."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.config import get_settings
from postroom.services import delivery, fetching
from postroom.storage.db import default_engine, unit_of_work
from postroom.storage.models import Mailbox, OutboxItem
from tests.api.conftest import PROBLEM, Api
from tests.api.test_sign_in import sign_in
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot
from tests.servers.scripted_smtp import Reply, ScriptedSmtpServer
from tests.servers.smtp import SmtpServer


def _anns_mailbox(admin: Api, ann: Api, dovecot: Dovecot, smtp: SmtpServer) -> str:
    address = f"ann-{uuid.uuid4().hex[:6]}@example.test"
    dovecot.add_user(address, "ann-pass-9")
    smtp.add_user(address, "ann-pass-9")
    for name, protocol, port in (("in", "imap", dovecot.imap_port), ("out", "smtp", smtp.port)):
        made = admin.post(
            "/servers",
            json={
                "name": name,
                "protocol": protocol,
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
            },
        )
        assert made.status_code == 201, made.text
    made = ann.post(
        "/mailboxes",
        json={"address": address, "incoming": "in", "outgoing": "out", "password": "ann-pass-9"},
    )
    assert made.status_code == 201, made.text
    return address


def test_fetch_now_starts_a_run_its_owner_follows_to_the_result(
    client: TestClient, admin: Api, ann: Api, bob: Api, dovecot: Dovecot, smtp_server: SmtpServer
) -> None:
    address = _anns_mailbox(admin, ann, dovecot, smtp_server)
    dovecot.deliver(address, [email_from("c@example.org", "One"), email_from("d@example.org")])
    assert bob.post(f"/mailboxes/{address}/fetch").status_code == 404
    started = ann.post(f"/mailboxes/{address}/fetch")
    assert started.status_code == 202, started.text
    run = started.json()
    assert (run["state"], run["finished"], run["mailbox"]) == ("waiting", False, address)
    again = ann.post(f"/mailboxes/{address}/fetch").json()
    assert again["id"] == run["id"]  # one run at a time

    assert fetching.fetch_once(default_engine(), address)[0].ok  # the worker's part
    done = ann.get(f"/mailboxes/{address}/fetch/{run['id']}").json()
    assert (done["state"], done["fetched"], done["finished"]) == ("done", 2, True)
    assert done["held"] == 2  # ann's mailbox has no workflow: held, never lost
    hidden = bob.get(f"/mailboxes/{address}/fetch/{run['id']}")
    assert hidden.status_code == 404 and hidden.headers["content-type"] == PROBLEM
    assert admin.get(f"/mailboxes/{address}/fetch/{run['id']}").status_code == 200


def test_a_queued_email_is_cancelled_once_and_never_sent(
    client: TestClient, admin: Api, ann: Api, bob: Api, dovecot: Dovecot, smtp_server: SmtpServer
) -> None:
    address = _anns_mailbox(admin, ann, dovecot, smtp_server)
    queued = []
    for to in ("first@example.org", "second@example.org"):
        made = ann.post(
            "/outbox", json={"sender": address, "to": [to], "subject": "Hi", "text": "Hello."}
        )
        assert made.status_code == 202, made.text
        queued.append(made.json()["id"])
    first, second = queued

    assert bob.post(f"/outbox/{first}/cancel").status_code == 404
    cancelled = ann.post(f"/outbox/{first}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    twice = ann.post(f"/outbox/{first}/cancel")
    assert twice.status_code == 409 and "only queued or deferred" in twice.json()["detail"]

    before = len(smtp_server.messages)
    assert delivery.flush_once(default_engine(), retry_now=True).sent == 1
    assert [m.rcpt_tos for m in smtp_server.messages[before:]] == [["second@example.org"]]
    sent = ann.post(f"/outbox/{second}/cancel")
    assert sent.status_code == 409  # taken and sent: too late to cancel
    with unit_of_work() as db:
        item = db.get(OutboxItem, first)
        assert item is not None and item.state == "cancelled"

    def ids(**query: str) -> list[int]:
        listed = ann.get("/outbox", params=query)
        assert listed.status_code == 200, listed.text
        return [i["id"] for i in listed.json()["items"]]

    assert ids(recipient="second@") == [second]
    assert ids(state="cancelled") == [first]
    assert ids(mailbox=address) == [second, first]
    assert ids(mailbox="someone-else@example.test") == []
    assert bob.get("/outbox").json()["items"] == []
    bad = ann.get("/outbox", params={"state": "lost"})
    assert bad.status_code == 422 and "No outbox state 'lost'" in bad.json()["detail"]


def test_the_console_shows_messages_fetched_so_far_while_the_run_goes_on(
    client: TestClient,
    admin: Api,
    ann: Api,
    dovecot: Dovecot,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTROOM_FETCH_BATCH_SIZE", "3")
    get_settings.cache_clear()
    address = _anns_mailbox(admin, ann, dovecot, smtp_server)
    dovecot.deliver(address, [email_from(f"c{i}@example.org", f"Case {i}") for i in range(7)])
    csrf = sign_in(client, ann.email)
    started = client.post(f"/profile/mailboxes/{address}/fetch", headers={"X-CSRF-Token": csrf})
    assert started.status_code == 200 and "waiting for the worker" in started.text
    found = re.search(r'hx-get="(/fetch-runs/\d+)" hx-trigger="every 1s"', started.text)
    assert found is not None
    progress = found.group(1)
    shown: list[str] = []

    def look(db: Session) -> None:  # first in each batch's transaction: the page, as it is now
        text = client.get(progress).text
        counted = re.search(r'<span class="count">(\d+)</span> fetched so far', text)
        shown.append(counted.group(1) if counted and 'hx-trigger="every 1s"' in text else text)

    with unit_of_work() as db:
        mailbox_id = db.scalar(select(Mailbox.id).where(Mailbox.address == address))
    assert mailbox_id is not None
    assert fetching.fetch_mailbox(default_engine(), mailbox_id, fence=look).ok
    assert shown[:3] == ["0", "3", "6"]
    finished = client.get(progress).text
    assert "7 fetched, 0 requests opened, 7 held, 0 failed" in finished
    assert "hx-trigger" not in finished  # the asking stops


def test_the_console_outbox_says_why_it_refuses(
    client: TestClient, admin: Api, ann: Api, dovecot: Dovecot, smtp_server: SmtpServer
) -> None:
    address = _anns_mailbox(admin, ann, dovecot, smtp_server)
    made = ann.post("/outbox", json={"sender": address, "to": ["x@example.org"], "text": "Hi"})
    item = made.json()["id"]
    assert delivery.flush_once(default_engine()).sent == 1
    csrf = sign_in(client, ann.email)
    bad_day = client.get("/outbox", params={"since": "last week"})
    assert bad_day.status_code == 422 and "is not a day" in bad_day.text
    too_late = client.post(f"/outbox/{item}/cancel?state=sent", data={"csrf": csrf})
    assert too_late.status_code == 409
    assert f"Outbox item {item} is sent; only queued or deferred ones" in too_late.text
    assert ann.get(f"/outbox/{item}").json()["state"] == "sent"


def test_a_deferred_email_is_found_by_its_state_and_retried_at_once(
    admin: Api, ann: Api, bob: Api
) -> None:
    """Queued again after a 452, it is "deferred" to the filter (not "queued"); Retry sends
    it now instead of after its backoff. A wait for the provider's limit is not retried."""
    address = f"ann-{uuid.uuid4().hex[:6]}@example.test"
    with ScriptedSmtpServer(users={address: "ann-pass-9"}, tls=False) as smtp:
        made = admin.post(
            "/servers",
            json={"name": "out", "protocol": "smtp", "host": "127.0.0.1", "port": smtp.port,
                  "security": "none"},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        made = ann.post(
            "/mailboxes", json={"address": address, "outgoing": "out", "password": "ann-pass-9"}
        )
        assert made.status_code == 201, made.text
        made = ann.post(
            "/outbox",
            json={"sender": address, "to": ["full@example.org"], "subject": "Hi", "text": "Hi."},
        )
        item = made.json()["id"]
        smtp.script(Reply(rcpt={"full@example.org": "452 4.2.2 Mailbox full"}))
        assert delivery.flush_once(default_engine()).deferred == 1

        def ids(**query: str) -> list[int]:
            return [i["id"] for i in ann.get("/outbox", params=query).json()["items"]]

        assert (ids(state="deferred"), ids(state="queued")) == ([item], [])
        assert delivery.flush_once(default_engine()).sent == 0  # its backoff is not over
        assert bob.post(f"/outbox/{item}/retry").status_code == 404
        retried = ann.post(f"/outbox/{item}/retry")
        assert retried.status_code == 200, retried.text
        assert delivery.flush_once(default_engine()).sent == 1
        assert [r.rcpt_tos for r in smtp.received] == [["full@example.org"]]
        assert ids(state="sent") == [item] and ids(state="deferred") == []
        again = ann.post(f"/outbox/{item}/retry")
        assert again.status_code == 409
        assert "only uncertain, failed or deferred" in again.json()["detail"]

        waiting = ann.post(
            "/outbox", json={"sender": address, "to": ["b@example.org"], "text": "Later."}
        ).json()["id"]
        with unit_of_work() as db:
            row = db.get(OutboxItem, waiting)
            assert row is not None
            row.state, row.wait_reason = "deferred", "30/min"
        assert ids(state="deferred") == [waiting]
        limited = ann.post(f"/outbox/{waiting}/retry")
        assert (
            limited.status_code == 409 and "provider's limit (30/min)" in limited.json()["detail"]
        )
