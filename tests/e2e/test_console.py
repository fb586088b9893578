"""The console end to end in chromium, over real Dovecot and a real SMTP server: an admin sets
up mail, mail becomes a request the console shows, and a user works it from their own mailbox."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from postroom.services import delivery, fetching, mailboxes, servers, users, workflows
from postroom.services.actors import OPERATOR
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec
from postroom.storage.db import default_engine, unit_of_work
from tests.conftest import USERS
from tests.e2e.conftest import Shoot
from tests.mailfactory import email_from
from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(email)).to_be_visible()


def add_user(email: str, password: str, *, admin: bool = False) -> None:
    with unit_of_work() as db:
        users.add(db, OPERATOR, email, password, admin=admin)


@pytest.mark.usefixtures("trust_test_ca")
def test_admin_sets_up_mail_and_a_user_works_the_request(
    page: Page, dovecot: Dovecot, test_ca: TestCA, screenshot: Shoot
) -> None:
    desk = f"desk-{uuid.uuid4().hex[:8]}@example.test"
    dovecot.add_user(desk, "desk-pass-1")
    add_user("admin@example.test", "admin-pass-1", admin=True)
    add_user("ann@example.test", "ann-pass-1")

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    screenshot(page, "sign-in")
    sign_in(page, "admin@example.test", "admin-pass-1")

    # Mail settings: a server, tested against the real Dovecot before it is saved.
    page.get_by_role("link", name="Mail settings").click()
    page.get_by_role("link", name="Add a server").click()
    page.get_by_label("Name", exact=True).fill("office-imap")
    page.get_by_label("Protocol").select_option("imap")
    page.get_by_label("Host").fill("127.0.0.1")
    page.get_by_label("Port").fill(str(dovecot.imap_port))
    page.get_by_label("Security").select_option("none")
    page.get_by_role("button", name="Test connection").click()
    report = page.locator("#report")
    expect(report).to_contain_text("passed")
    expect(report).to_contain_text("greeting")
    screenshot(page, "server-test-connection")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("The server was added")
    expect(page.get_by_role("link", name="office-imap")).to_be_visible()

    # A workflow, then a system mailbox tied to it, tested.
    page.get_by_role("link", name="Workflows").click()
    page.get_by_label("Name", exact=True).fill("Support")
    page.get_by_label("Steps, in order").fill("New, Triage, Done")
    page.get_by_role("button", name="Add the workflow").click()
    page.get_by_label("Give Support to").select_option("ann@example.test")
    page.get_by_role("button", name="Give").click()
    expect(page.get_by_role("cell", name="ann@example.test")).to_be_visible()

    page.get_by_role("link", name="System mailboxes").click()
    page.get_by_label("Email address").fill(desk)
    page.get_by_label("Name", exact=True).fill("Service desk")
    page.get_by_label("Workflow").select_option("Support")
    page.get_by_label("Incoming server").select_option("office-imap")
    page.get_by_label("Password").fill("desk-pass-1")
    page.get_by_role("button", name="Save the mailbox").click()
    expect(page.get_by_role("status")).to_contain_text("The mailbox was added")
    page.get_by_role("button", name=f"Test {desk}").click()
    expect(page.locator("td .report")).to_contain_text("passed")
    screenshot(page, "system-mailboxes")

    # Mail delivered to Dovecot becomes a request the console shows.
    dovecot.deliver(desk, [email_from("cust@example.org", "Printer on fire", "It smokes.")])
    assert all(run.error is None for run in fetching.fetch_once(default_engine()))
    page.get_by_role("link", name="Requests").click()
    expect(page.get_by_role("link", name="Printer on fire")).to_be_visible()
    page.get_by_label("Workflow").select_option("Support")
    page.get_by_role("button", name="Filter").click()
    page.get_by_label("Step").select_option("Triage")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name="Printer on fire")).to_be_visible()
    screenshot(page, "requests")
    page.get_by_role("link", name="Mailbox health").click()
    expect(page.get_by_role("cell", name="ok", exact=True)).to_be_visible()
    screenshot(page, "mailbox-health")
    page.get_by_role("button", name="Sign out").click()

    # A user adds two mailboxes, makes the second the default, sends a test email, replies.
    with SmtpServer(users=USERS, ca=test_ca, tls=True) as smtp:
        with unit_of_work() as db:
            servers.add(
                db,
                OPERATOR,
                ServerSpec(
                    name="office-smtp",
                    protocol="smtp",
                    host="127.0.0.1",
                    port=smtp.port,
                    security="starttls",
                ),
            )
        sign_in(page, "ann@example.test", "ann-pass-1")
        page.get_by_role("link", name="My profile").click()
        expect(page.get_by_role("link", name="Add an Office 365 mailbox")).to_have_attribute(
            "href", "/oauth/start?provider=microsoft"
        )
        for address in ("ann.old@example.test", "ann@example.test"):
            page.get_by_label("Email address").fill(address)
            page.get_by_label("Outgoing server").select_option("office-smtp")
            page.get_by_label("User name").fill("ann")
            page.get_by_label("Password", exact=True).fill("ann-pass-2")
            page.get_by_role("button", name="Add the mailbox").click()
            expect(page.get_by_role("status")).to_contain_text("The mailbox was added")
        page.get_by_role("button", name="Set ann@example.test as default").click()
        expect(page.get_by_role("status")).to_contain_text("now your default")
        page.get_by_role("button", name="Send a test email from ann@example.test").click()
        expect(page.locator("#report-ann-at-example-test")).to_contain_text("passed")
        [test_email] = smtp.wait_for(1)
        assert test_email.rcpt_tos == ["ann@example.test"] and test_email.tls
        screenshot(page, "my-mailboxes")

        page.get_by_role("link", name="Requests").click()
        page.get_by_role("link", name="Printer on fire").click()
        expect(page.get_by_text("It smokes.")).to_be_visible()
        page.get_by_label("Message", exact=True).fill("We are on our way with an extinguisher.")
        page.get_by_role("button", name="Send reply").click()
        expect(page.get_by_role("status")).to_contain_text("Your reply is in the outbox")
        expect(page.get_by_label("Message from ann@example.test")).to_contain_text("extinguisher")
        page.get_by_label("Move to step").select_option("Done")
        page.get_by_role("button", name="Move").click()
        expect(page.get_by_text("step Done")).to_be_visible()
        screenshot(page, "request")
        status = page.get_by_label("Message from ann@example.test").locator(".delivery .badge")
        expect(status).to_have_text("queued")  # not "sent" while it waits in the outbox
        assert delivery.flush_once(default_engine()).sent == 1
        expect(status).to_have_text("sent", timeout=15_000)  # the page asks until it settles
        reply = smtp.wait_for(2)[1]
        assert reply.rcpt_tos == ["cust@example.org"]
        assert "[#" in str(reply.message()["Subject"]) and reply.mail_from == "ann@example.test"


def test_held_mail_is_opened_as_a_request_from_the_email_inbox(
    page: Page, dovecot: Dovecot, screenshot: Shoot
) -> None:
    desk = f"desk-{uuid.uuid4().hex[:8]}@example.test"
    dovecot.add_user(desk, "desk-pass-1")
    add_user("admin@example.test", "admin-pass-1", admin=True)
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
        workflows.add(db, OPERATOR, "Support", "New,Triage,Done")
        mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec(address=desk, incoming="in", system=True, password="desk-pass-1"),
        )
    dovecot.deliver(desk, [email_from("cust@example.org", "Where is my order?")])
    assert all(run.error is None for run in fetching.fetch_once(default_engine()))
    sign_in(page, "admin@example.test", "admin-pass-1")
    page.get_by_role("link", name="Email inbox").click()
    expect(page.get_by_role("cell", name="no-workflow")).to_be_visible()
    screenshot(page, "email-inbox")
    page.get_by_role("link", name="Where is my order?").click()
    page.get_by_label("Workflow").select_option("Support")
    page.get_by_role("button", name="Open a request").click()
    expect(page.get_by_role("heading", name=re.compile("Where is my order"))).to_be_visible()
    expect(page.get_by_text("step Triage")).to_be_visible()
