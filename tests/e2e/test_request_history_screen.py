"""A request's page in chromium, over real Dovecot and a real SMTP server: its history (opened,
acknowledgement, moved, replied; who and when), its attachments and raw email downloaded as
stored, a huge body cut in the preview, and nothing of it for a user not given the workflow."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from postroom.services import (
    acknowledgements,
    delivery,
    fetching,
    mailboxes,
    servers,
    users,
    workflows,
)
from postroom.services.actors import OPERATOR
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec
from postroom.storage.db import default_engine, unit_of_work
from postroom.storage.models import Message
from tests.e2e.conftest import Shoot
from tests.e2e.test_console import add_user, sign_in
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 64


def invoice(sender: str, to: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, "Invoice 2211"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    message.set_content("Please find the invoice attached.")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="invoice-2211.pdf")
    return message.as_bytes()


def huge(sender: str, to: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, "Server logs"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    message.set_content("".join(f"log line {i:08d}: all quiet\n" for i in range(700_000)))
    return message.as_bytes()


def stored(subject: str) -> bytes:
    with unit_of_work() as db:
        raw = db.scalar(select(Message.raw).where(Message.subject == subject))
    assert raw is not None
    return raw


def downloaded(page: Page, link_name: str, exact: bool = True) -> bytes:
    with page.expect_download() as caught:
        page.get_by_role("link", name=link_name, exact=exact).first.click()
    path = caught.value.path()
    return Path(path).read_bytes()


def test_a_request_shows_its_history_and_its_files_download_as_stored(
    page: Page, dovecot: Dovecot, screenshot: Shoot
) -> None:
    desk = f"desk-{uuid.uuid4().hex[:8]}@example.test"
    dovecot.add_user(desk, "desk-pass-1")
    add_user("ann@example.test", "ann-pass-1")
    add_user("bob@example.test", "bob-pass-1")
    with SmtpServer(users={desk: "desk-pass-1"}, tls=False) as smtp:
        with unit_of_work() as db:
            servers.add(
                db,
                OPERATOR,
                ServerSpec(
                    name="in",
                    protocol="imap",
                    host="127.0.0.1",
                    port=dovecot.imap_port,
                    security="none",
                ),
            )
            servers.add(
                db,
                OPERATOR,
                ServerSpec(
                    name="out", protocol="smtp", host="127.0.0.1", port=smtp.port, security="none"
                ),
            )
            workflows.add(db, OPERATOR, "Billing", "New, Triage, Done")
            acknowledgements.configure(db, OPERATOR, "Billing", body="We have request $request.")
            mailboxes.add(
                db,
                OPERATOR,
                MailboxSpec(
                    address=desk,
                    system=True,
                    incoming="in",
                    outgoing="out",
                    password="desk-pass-1",
                    workflow="Billing",
                ),
            )
            workflows.give(db, OPERATOR, "Billing", users.get(db, "ann@example.test"))
        dovecot.deliver(desk, [invoice("cust@example.org", desk), huge("ops@example.org", desk)])
        assert all(run.error is None for run in fetching.fetch_once(default_engine()))
        assert delivery.flush_once(default_engine()).sent == 2  # the two acknowledgements
        smtp.wait_for(2)

        sign_in(page, "ann@example.test", "ann-pass-1")
        page.get_by_role("link", name="Requests").click()
        page.get_by_role("link", name="Invoice 2211").click()
        history = page.locator("ol.timeline")
        expect(history.locator("li")).to_have_count(2)
        expect(history.locator("li").nth(0)).to_contain_text("opened")
        expect(history.locator("li").nth(0)).to_contain_text("by cust@example.org")
        expect(history.locator("li").nth(1)).to_contain_text("acknowledgement")
        expect(history.locator("li").nth(1).locator(".badge")).to_have_text("sent")

        page.get_by_label("Move to step").select_option("Done")
        page.get_by_role("button", name="Move").click()
        expect(page.get_by_role("status")).to_contain_text("The request was moved")
        page.get_by_label("Message", exact=True).fill("Paid today, thank you.")
        page.get_by_role("button", name="Send reply").click()
        expect(page.get_by_role("status")).to_contain_text("Your reply is in the outbox")
        expect(history.locator("li")).to_have_count(4)
        expect(history.locator("li").nth(2)).to_contain_text("moved from Triage to Done")
        expect(history.locator("li").nth(2)).to_contain_text("by ann@example.test")
        expect(history.locator("li").nth(3)).to_contain_text(f"replied from {desk}")
        expect(history.locator("li").nth(3)).to_contain_text("by ann@example.test")
        expect(history.locator("li").nth(3).locator(".badge")).to_have_text("queued")

        files = page.get_by_label("Message from cust@example.org")
        expect(files.get_by_role("link", name="invoice-2211.pdf")).to_be_visible()
        expect(files).to_contain_text("application/pdf · 16.4 kB")
        screenshot(page, "request-history")
        assert downloaded(page, "invoice-2211.pdf") == PDF
        with page.expect_download() as caught:
            files.get_by_role("link", name="Raw email (.eml)").click()
        assert caught.value.suggested_filename.endswith(".eml")
        assert Path(caught.value.path()).read_bytes() == stored("Invoice 2211")

        # A 20 MB body: the page shows its start and says where it was cut.
        page.get_by_role("link", name="Requests").click()
        page.get_by_role("link", name="Server logs").click()
        notice = page.get_by_role("note")
        expect(notice).to_contain_text("Body cut at 100 KB — download the raw email")
        shown = page.locator("article pre").inner_text()
        assert shown.startswith("log line 00000000") and len(shown) <= 100 * 1024
        with page.expect_download() as caught:
            notice.get_by_role("link", name="download the raw email").click()
        whole = Path(caught.value.path()).read_bytes()
        assert whole == stored("Server logs") and len(whole) > 19_000_000
        raw_url = page.get_by_role("link", name="Raw email (.eml)").get_attribute("href")
        assert raw_url is not None
        page.get_by_role("button", name="Sign out").click()

    # Bob is not given the workflow: the page and its files are not there for him.
    sign_in(page, "bob@example.test", "bob-pass-1")
    assert page.request.get(raw_url).status == 404
    attachment = raw_url.rsplit("/", 1)[0] + "/attachments/0"
    assert page.request.get(attachment).status == 404
