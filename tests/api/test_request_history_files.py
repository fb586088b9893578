"""A request's history, attachments and raw email through the REST API, over real mail (Dovecot
delivers, the fetch service stores). Runs on SQLite and PostgreSQL: the raw email is streamed
from the database in chunks, which each engine reads its own way."""

from __future__ import annotations

import json
from email.message import EmailMessage
from urllib.parse import quote

import pytest
from sqlalchemy import select

from postroom.services import acknowledgements
from postroom.services.actors import OPERATOR
from postroom.services.request_files import CHUNK
from postroom.storage.db import unit_of_work
from postroom.storage.models import Message
from tests.api.conftest import PROBLEM, Api
from tests.api.test_api import desk, fetch
from tests.conftest import Cli
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot

pytestmark = pytest.mark.usefixtures("database_url")

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40


def with_attachments(sender: str, subject: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "desk@example.test", subject
    message["Message-ID"] = "<files-1@example.org>"
    message.set_content("See the invoice attached.")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="Rechnung März.pdf")
    message.add_attachment(
        b"<script>alert(1)</script>", maintype="text", subtype="html", filename="page.html"
    )
    return message.as_bytes()


def stored_raw(message_id: int) -> bytes:
    with unit_of_work() as db:
        raw = db.scalar(select(Message.raw).where(Message.id == message_id))
    assert raw is not None
    return raw


def test_history_tells_opened_acknowledged_moved_and_replied_with_who_and_when(
    admin: Api, ann: Api, dovecot: Dovecot, cli: Cli
) -> None:
    address = desk(admin, dovecot)
    smtp = {"name": "out", "protocol": "smtp", "host": "127.0.0.1", "security": "none"}
    assert admin.post("/servers", json=smtp).status_code == 201
    assert admin.call("PATCH", f"/mailboxes/{address}", json={"outgoing": "out"}).status_code == 200
    with unit_of_work() as db:
        acknowledgements.configure(db, OPERATOR, "Support", body="We have your request $request.")
    dovecot.deliver(address, [with_attachments("cust@example.org", "Invoice")])
    fetch()
    [request] = admin.get("/requests").json()["items"]
    rid = request["id"]
    assert admin.post(f"/requests/{rid}/move", json={"step": "Done"}).status_code == 200
    admin.post("/workflows/Support/members", json={"email": "ann@example.test"})
    assert (
        ann.post(f"/requests/{rid}/reply", json={"body": "Paid.", "mailbox": address}).status_code
        == 202
    )

    history = ann.get(f"/requests/{rid}/history").json()
    assert [(e["kind"], e["actor"]) for e in history] == [
        ("opened", "cust@example.org"),
        ("acknowledged", "postroom"),
        ("moved", "admin@example.test"),
        ("replied", "ann@example.test"),
    ]
    assert history[2]["details"] == {"step": "Done", "before": "Triage"}
    assert history[1]["delivery"] == "queued" and history[3]["delivery"] == "queued"
    assert [e["at"] for e in history] == sorted(e["at"] for e in history)
    shown = cli("request", "history", str(rid), "--json")
    assert shown.code == 0 and json.loads(shown.stdout) == history
    text = cli("request", "history", str(rid)).stdout
    assert "Triage → Done" in text and "acknowledgement" in text


def test_attachments_and_the_raw_email_download_as_stored_for_those_who_see_the_request(
    admin: Api, bob: Api, dovecot: Dovecot
) -> None:
    address = desk(admin, dovecot)
    dovecot.deliver(address, [with_attachments("cust@example.org", "Invoice")])
    fetch()
    [request] = admin.get("/requests").json()["items"]
    rid = request["id"]
    [message] = admin.get(f"/requests/{rid}").json()["thread"]
    mid = message["id"]
    assert message["attachments"] == [
        {
            "index": 0,
            "filename": "Rechnung März.pdf",
            "content_type": "application/pdf",
            "size": len(PDF),
        },
        {"index": 1, "filename": "page.html", "content_type": "text/html", "size": 25},
    ]
    assert admin.get(f"/requests/{rid}/messages/{mid}/attachments").json() == message["attachments"]

    pdf = admin.get(f"/requests/{rid}/messages/{mid}/attachments/0")
    assert pdf.status_code == 200 and pdf.content == PDF
    assert pdf.headers["content-type"] == "application/octet-stream"
    assert pdf.headers["content-disposition"].startswith("attachment;")
    assert (
        "filename*=UTF-8''" + quote("Rechnung März.pdf", safe="")
        in pdf.headers["content-disposition"]
    )
    page = admin.get(f"/requests/{rid}/messages/{mid}/attachments/1")
    assert page.headers["content-type"] == "application/octet-stream"  # never run as HTML
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    missing = admin.get(f"/requests/{rid}/messages/{mid}/attachments/2")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM

    raw = admin.get(f"/requests/{rid}/messages/{mid}/raw")
    assert raw.status_code == 200 and raw.content == stored_raw(mid)
    assert raw.headers["content-type"].startswith("message/rfc822")
    assert raw.headers["content-disposition"].startswith("attachment;")
    assert ".eml" in raw.headers["content-disposition"]

    # Someone not given the workflow learns nothing: every door answers as for no request.
    for path in ("/history", f"/messages/{mid}/raw", f"/messages/{mid}/attachments/0"):
        hidden = bob.get(f"/requests/{rid}{path}")
        assert hidden.status_code == 404, path
        assert hidden.headers["content-type"] == PROBLEM
    # A message of another request is not found through this one.
    assert admin.get(f"/requests/{rid + 1}/messages/{mid}/raw").status_code == 404


def test_a_huge_body_is_cut_in_the_preview_and_downloads_whole_in_chunks(
    admin: Api, dovecot: Dovecot
) -> None:
    address = desk(admin, dovecot)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "big@example.org", address, "Logs"
    message["Message-ID"] = "<big-1@example.org>"
    lines = "".join(f"line {i:08d} of the log, nothing to see\n" for i in range(500_000))
    message.set_content(lines)  # ~20 MB of text
    dovecot.deliver(address, [message.as_bytes()])
    fetch()
    [request] = admin.get("/requests").json()["items"]
    [shown] = admin.get(f"/requests/{request['id']}").json()["thread"]
    assert shown["text_cut"] is True and shown["cut_kb"] == 100
    assert shown["text"].startswith("line 00000000 of the log")
    assert len(shown["text"].encode()) <= 100 * 1024
    raw = admin.get(f"/requests/{request['id']}/messages/{shown['id']}/raw")
    stored = stored_raw(shown["id"])
    assert len(stored) > 19_000_000 and len(stored) > 10 * CHUNK
    assert raw.content == stored
    assert raw.headers["content-length"] == str(len(stored))


def test_held_mail_opened_and_added_by_hand_names_the_person_in_the_history(
    admin: Api, dovecot: Dovecot
) -> None:
    address = desk(admin, dovecot, workflow=None)
    dovecot.deliver(
        address,
        [email_from("ann@example.org", "Lost"), email_from("ann@example.org", "Lost, again")],
    )
    fetch()
    held = admin.get("/held").json()["items"]
    opened = admin.post(f"/held/{held[1]['id']}/open-request", json={"workflow": "Support"})
    rid = opened.json()["id"]
    admin.post(f"/held/{held[0]['id']}/attach", json={"request": rid})
    # A later email in the thread is the sender's doing.
    dovecot.deliver(address, [email_from("ann@example.org", f"Re: Lost [#{rid}]")])
    admin.call("PATCH", f"/mailboxes/{address}", json={"workflow": "Support"})
    fetch()
    history = admin.get(f"/requests/{rid}/history").json()
    assert [(e["kind"], e["actor"], e["details"]["subject"]) for e in history] == [
        ("opened", "admin@example.test", "Lost"),
        ("attached", "admin@example.test", "Lost, again"),
        ("received", "ann@example.org", f"Re: Lost [#{rid}]"),
    ]
    assert [e["label"] for e in history] == ["opened", "email added by hand", "email received"]
