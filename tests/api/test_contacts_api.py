"""/api/v1/contacts and /api/v1/activities over a real CardDAV/CalDAV account (Radicale): each
user sees and changes only their own mailboxes' records, the losing side of a conflict is
shown, a request shows its requester's contact, and each change is a webhook event."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from postroom.services import sync_runs
from postroom.storage.db import default_engine, unit_of_work
from postroom.storage.models import Request, WebhookDelivery, Workflow
from tests.api.conftest import Api
from tests.api.test_sign_in import sign_in
from tests.servers.radicale import Radicale, radicale_server

USERS = {"ann": "ann-pass-1"}
VCARD = "text/vcard; charset=utf-8"


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[Radicale]:
    with radicale_server(tmp_path / "radicale", USERS) as server:
        yield server


def _ok(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def _setup(admin: Api, ann: Api, radicale: Radicale) -> str:
    """Ann's personal IMAP mailbox, syncing both kinds with her DAV account."""
    _ok(
        admin.post(
            "/servers",
            json={
                "name": "in",
                "protocol": "imap",
                "host": "127.0.0.1",
                "port": 1,
                "security": "none",
                "login_format": "local-part",
            },
        ),
        201,
    )
    address = "ann@example.org"
    _ok(
        ann.post(
            "/mailboxes", json={"address": address, "incoming": "in", "password": "ann-pass-1"}
        ),
        201,
    )
    edited = _ok(
        ann.call(
            "PATCH",
            f"/mailboxes/{address}",
            json={"sync": "contacts,calendar", "dav_url": radicale.home("ann")},
        )
    )
    assert edited["sync"] == ["contacts", "calendar"]
    return address


def test_contacts_round_trip_with_conflict_history_through_the_api(
    admin: Api, ann: Api, bob: Api, radicale: Radicale
) -> None:
    address = _setup(admin, ann, radicale)
    _ok(
        admin.post(
            "/webhooks",
            json={
                "name": "crm",
                "url": "https://crm.example.org/hook",
                "events": ["contact.changed"],
            },
        ),
        201,
    )
    made = _ok(
        ann.post(
            "/contacts",
            json={"mailbox": address, "email": "Pat@Client.example", "name": "Pat", "phone": "1"},
        ),
        201,
    )
    assert (made["email"], made["pending"], made["history"]) == ("pat@client.example", True, [])
    assert _ok(bob.get("/contacts"))["items"] == []  # another user's mailbox is not theirs
    refused = bob.post("/contacts", json={"mailbox": address, "email": "x@y.example", "name": "X"})
    assert refused.status_code == 404

    (run, _) = sync_runs.sync_once(default_engine())
    assert run.ok and run.pushed == 1
    (href,) = radicale.hrefs(radicale.addressbook("ann"), "ann")
    radicale.put("ann", href, radicale.body("ann", href).replace("FN:Pat", "FN:Pat Account"), VCARD)
    _ok(ann.call("PATCH", f"/contacts/{made['id']}", json={"name": "Pat Api"}))
    (run, _) = sync_runs.sync_once(default_engine())
    assert run.ok and run.conflicts == 1

    shown = _ok(ann.get(f"/contacts/{made['id']}"))
    assert (shown["name"], shown["pending"]) == ("Pat Account", False)
    assert [(h["data"]["name"], h["reason"]) for h in shown["history"]] == [
        ("Pat Api", "changed on both sides: the account's version won")
    ]
    listed = _ok(ann.get("/contacts", params={"mailbox": address, "email": "pat@client.example"}))
    assert [c["name"] for c in listed["items"]] == ["Pat Account"]
    assert bob.get(f"/contacts/{made['id']}").status_code == 404

    with unit_of_work() as db:
        events = [
            (d.payload["data"]["origin"], d.payload["data"]["contact"]["name"])
            for d in db.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
        ]
    assert events == [
        ("postroom", "Pat"),
        ("postroom", "Pat Api"),
        ("account", "Pat Account"),
    ]


def _request(requester: str) -> int:
    with unit_of_work() as db:
        workflow = Workflow(name="Sales")
        db.add(workflow)
        db.flush()
        request = Request(workflow_id=workflow.id, subject="Quote", requester=requester)
        db.add(request)
        db.flush()
        return request.id


def test_activities_from_a_request_and_the_requesters_contact_on_the_request(
    client: TestClient, admin: Api, ann: Api, radicale: Radicale
) -> None:
    _setup(admin, ann, radicale)
    radicale.put(
        "ann",
        "/ann/contacts/quinn.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:quinn\r\nFN:Quinn Buyer\r\nN:Buyer;Quinn;;;\r\n"
        "EMAIL:quinn@client.example\r\nORG:Client Ltd\r\nTEL:+1 555 0100\r\nEND:VCARD\r\n",
        VCARD,
    )
    request_id = _request("quinn@client.example")
    assert _ok(admin.get(f"/requests/{request_id}"))["requester_contact"] is None
    for run in sync_runs.sync_once(default_engine()):
        assert run.ok, run
    assert _ok(admin.get(f"/requests/{request_id}"))["requester_contact"] == {
        "name": "Quinn Buyer",
        "company": "Client Ltd",
        "phone": "+1 555 0100",
    }
    sign_in(client, admin.email)
    page = client.get(f"/requests/{request_id}")
    assert page.status_code == 200
    assert "Quinn Buyer · Client Ltd · " in page.text and 'href="tel:+1 555 0100"' in page.text

    made = _ok(
        admin.post(
            "/activities",
            json={
                "mailbox": "ann@example.org",
                "title": "Follow up the quote",
                "start": "2026-12-07T14:00:00Z",
                "end": "2026-12-07T14:15:00Z",
                "request": request_id,
            },
        ),
        201,
    )
    assert made["attendees"] == ["quinn@client.example"] and made["pending"] is True
    bad = admin.post(
        "/activities",
        json={
            "mailbox": "ann@example.org",
            "title": "Backwards",
            "start": "2026-12-07T14:00:00Z",
            "end": "2026-12-07T13:00:00Z",
        },
    )
    assert bad.status_code == 422 and "end must come after the start" in bad.text
    for run in sync_runs.sync_once(default_engine()):
        assert run.ok, run
    (href,) = radicale.hrefs(radicale.calendar("ann"), "ann")
    assert "SUMMARY:Follow up the quote" in radicale.body("ann", href)

    moved = _ok(
        admin.call(
            "PATCH",
            f"/activities/{made['id']}",
            json={"start": "2026-12-07T15:00:00Z", "end": "2026-12-07T15:15:00Z"},
        )
    )
    assert moved["pending"] is True
    for run in sync_runs.sync_once(default_engine()):
        assert run.ok, run
    assert "DTSTART:20261207T150000Z" in radicale.body("ann", href)
    listed = _ok(ann.get("/activities", params={"request": request_id}))
    assert [(a["title"], a["start"], a["pending"]) for a in listed["items"]] == [
        ("Follow up the quote", "2026-12-07T15:00:00+00:00", False)
    ]


def test_delete_hides_the_record_at_once_and_the_sync_deletes_it_on_the_account(
    admin: Api, ann: Api, bob: Api, radicale: Radicale
) -> None:
    address = _setup(admin, ann, radicale)
    made = _ok(
        ann.post("/contacts", json={"mailbox": address, "email": "p@c.example", "name": "P"}), 201
    )
    meeting = _ok(
        ann.post(
            "/activities",
            json={"mailbox": address, "title": "Call", "start": "2026-12-03T09:00Z",
                  "end": "2026-12-03T09:30Z"},
        ),
        201,
    )  # fmt: skip
    sync_runs.sync_once(default_engine())
    assert len(radicale.hrefs(radicale.addressbook("ann"), "ann")) == 1

    assert bob.call("DELETE", f"/contacts/{made['id']}").status_code == 404  # not theirs
    assert ann.call("DELETE", f"/contacts/{made['id']}").status_code == 204
    assert ann.call("DELETE", f"/activities/{meeting['id']}").status_code == 204
    assert ann.get(f"/contacts/{made['id']}").status_code == 404
    assert _ok(ann.get("/contacts"))["items"] == []
    assert ann.call("DELETE", f"/contacts/{made['id']}").status_code == 404  # already removed

    runs = sync_runs.sync_once(default_engine())
    assert [(r.kind, r.ok, r.deleted) for r in runs] == [
        ("contacts", True, 1),
        ("calendar", True, 1),
    ]
    assert radicale.hrefs(radicale.addressbook("ann"), "ann") == {}
    assert radicale.hrefs(radicale.calendar("ann"), "ann") == {}
