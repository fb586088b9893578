"""One authorization rule for console and API, checked first: a forbidden action writes nothing,
reveals nothing and reports no success; a huge held email is previewed, not rendered whole."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox, Message, Request, Workflow
from tests.api.conftest import PROBLEM, Api
from tests.api.test_sign_in import sign_in


def held_in_anns_mailbox(admin: Api, ann: Api, raw: bytes | None = None) -> int:
    """Ann's own mailbox, with one held email in it; workflows Secret and Support (hers)."""
    admin.post("/servers", json={"name": "in", "protocol": "imap", "host": "127.0.0.1"})
    for name in ("Secret", "Support"):
        admin.post("/workflows", json={"name": name, "steps": ["New", "Triage"]})
    admin.post("/workflows/Support/members", json={"email": ann.email})
    made = ann.post("/mailboxes", json={"address": ann.email, "incoming": "in", "password": "pw"})
    assert made.status_code == 201, made.text
    raw = raw or b"Subject: Hello\r\nFrom: cust@example.org\r\n\r\nPlease help.\r\n"
    with unit_of_work() as db:
        mailbox_id = db.scalar(select(Mailbox.id).where(Mailbox.address == ann.email))
        message = Message(
            mailbox_id=mailbox_id,
            sha256=hashlib.sha256(raw).hexdigest(),
            raw=raw,
            size=len(raw),
            sender="cust@example.org",
            subject="Hello",
            status="held",
            held_reason="no-workflow",
        )
        db.add(message)
        db.flush()
        return message.id


def requests_in(workflow: str) -> int:
    with unit_of_work() as db:
        return (
            db.scalar(
                select(func.count())
                .select_from(Request)
                .join(Workflow)
                .where(Workflow.name == workflow)
            )
            or 0
        )


def test_no_one_opens_an_email_into_a_workflow_they_are_not_in(
    client: TestClient, admin: Api, ann: Api
) -> None:
    message_id = held_in_anns_mailbox(admin, ann)
    csrf = sign_in(client, ann.email)
    console = client.post(
        f"/inbox/{message_id}/open",
        data={"csrf": csrf, "workflow": "Secret"},
        follow_redirects=False,
    )
    assert console.status_code in (404, 422) and "Secret" in console.text
    api = ann.post(f"/held/{message_id}/open-request", json={"workflow": "Secret"})
    assert api.status_code == 404 and api.headers["content-type"] == PROBLEM
    assert requests_in("Secret") == 0
    assert ann.get(f"/held/{message_id}").json()["status"] == "held"
    mine = client.post(
        f"/inbox/{message_id}/open",
        data={"csrf": csrf, "workflow": "Support"},
        follow_redirects=False,
    )
    assert mine.status_code == 303 and requests_in("Support") == 1


def test_a_forbidden_server_removal_shows_no_servers_or_mailboxes(
    client: TestClient, admin: Api, ann: Api
) -> None:
    held_in_anns_mailbox(admin, ann)  # the server is in use by Ann's mailbox
    admin.post("/servers", json={"name": "other", "protocol": "imap", "host": "imap.other.test"})
    csrf = sign_in(client, ann.email)
    refused = client.post("/settings/servers/in/remove", data={"csrf": csrf})
    assert refused.status_code == 403 and "Only administrators" in refused.text
    for secret in ("imap.other.test", "127.0.0.1", ann.email, "still used by"):
        assert secret not in refused.text


def test_revoking_another_users_token_or_switching_a_workflow_reports_no_success(
    client: TestClient, admin: Api, ann: Api
) -> None:
    admin.post("/workflows", json={"name": "Support", "steps": ["New"]})
    admin_token = admin.get("/me/tokens").json()["items"][0]["id"]
    csrf = sign_in(client, ann.email)
    revoke = client.post(f"/profile/tokens/{admin_token}/revoke", data={"csrf": csrf})
    assert revoke.status_code == 404 and "was revoked" not in revoke.text
    assert admin.get("/me").status_code == 200
    switch = client.post("/workflows/Support/active", data={"csrf": csrf, "active": ""})
    assert switch.status_code == 403 and "workflow was changed" not in switch.text
    assert admin.get("/workflows/Support").json()["active"] is True


def test_a_huge_held_email_is_previewed_with_a_download_link(
    client: TestClient, admin: Api, ann: Api
) -> None:
    line = b"x" * 998 + b"\r\n"
    body = line * (30 * 1024 * 1024 // len(line))
    raw = b"Subject: Hello\r\nFrom: cust@example.org\r\n\r\n" + body
    message_id = held_in_anns_mailbox(admin, ann, raw)
    sign_in(client, ann.email)
    page = client.get(f"/inbox/{message_id}")
    assert page.status_code == 200 and len(page.content) < 1024 * 1024
    assert "only the start is shown" in page.text
    assert f'href="/inbox/{message_id}/raw"' in page.text
    whole = client.get(f"/inbox/{message_id}/raw")
    assert whole.content == raw
    assert whole.headers["content-disposition"].startswith("attachment")
    assert ann.get(f"/held/{message_id}").json()["text_cut"] is True
    with TestClient(client.app) as stranger:
        assert stranger.get(f"/inbox/{message_id}/raw", follow_redirects=False).status_code == 303


def test_every_answer_carries_the_security_headers(client: TestClient, admin: Api) -> None:
    for answer in (client.get("/sign-in"), admin.get("/me"), client.get("/health")):
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "same-origin"
