"""The console's forms for personal mailboxes, from the outside: another user can neither flip
a mailbox's switches nor add a mailbox for someone else, and a refused form changes nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Api
from tests.api.test_sign_in import sign_in

BOX = "ann.work@example.test"


def _anns_mailbox(admin: Api, ann: Api) -> None:
    for name, protocol in (("in", "imap"), ("out", "smtp")):
        made = admin.post(
            "/servers", json={"name": name, "protocol": protocol, "host": "127.0.0.1"}
        )
        assert made.status_code == 201, made.text
    made = ann.post(
        "/mailboxes",
        json={"address": BOX, "incoming": "in", "outgoing": "out", "password": "pw-1"},
    )
    assert made.status_code == 201, made.text


def _switches(ann: Api) -> tuple[bool, bool]:
    [mine] = ann.get("/mailboxes").json()["items"]
    return mine["receive"], mine["send"]


def test_only_its_owner_or_an_administrator_switches_a_personal_mailbox(
    client: TestClient, admin: Api, ann: Api, bob: Api
) -> None:
    _anns_mailbox(admin, ann)
    csrf = sign_in(client, bob.email)
    mine = client.post(f"/profile/mailboxes/{BOX}/switch", data={"csrf": csrf, "send": "off"})
    assert mine.status_code == 422 and f"No mailbox {BOX}" in mine.text
    through_users = client.post(
        f"/users/{ann.email}/mailboxes/{BOX}/switch", data={"csrf": csrf, "send": "off"}
    )
    assert through_users.status_code == 403
    added = client.post(
        f"/users/{ann.email}/mailboxes",
        data={"csrf": csrf, "address": "x@example.test", "outgoing": "out", "password": "pw"},
    )
    assert added.status_code == 403 and "Only administrators" in added.text
    assert _switches(ann) == (True, True)
    assert [m["address"] for m in ann.get("/mailboxes").json()["items"]] == [BOX]

    client.cookies.clear()  # signed out
    csrf = sign_in(client, ann.email)
    off = client.post(f"/profile/mailboxes/{BOX}/switch", data={"csrf": csrf, "receive": "off"})
    assert off.status_code == 200 and "The switch was saved" in off.text
    assert _switches(ann) == (False, True)
