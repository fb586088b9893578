"""Seed 003 (HelpSTAR, user email accounts) in chromium: an administrator configures several
mail servers (POP3/SMTP and IMAP), support reps enter their own email accounts on those servers,
and their email inbox creates a request from one email and updates it with another; a rep's
reply goes out from their own account and the customer's answer updates the request by itself."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Shoot
from tests.e2e.story_steps import fetch_now, go, sign_in, sign_out, slug
from tests.e2e.test_console import add_user
from tests.e2e.worker import Worker
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer

CUSTOMER = "kim@customer.test"


def _add_server(page: Page, name: str, protocol: str, port: int) -> None:
    go(page, "Mail settings")
    page.get_by_role("link", name="Add a server").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Protocol").select_option(protocol)
    page.get_by_label("Host").fill("127.0.0.1")
    page.get_by_label("Port").fill(str(port))
    page.get_by_label("Security").select_option("none")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("The server was added")


def _enter_a_reps_account(page: Page, rep: str, address: str, incoming: str, password: str) -> None:
    """Users > a rep > Email: the administrator enters the rep's own account on its server."""
    go(page, "Users")
    page.get_by_role("link", name=f"Edit user {rep}").click()
    form = page.get_by_role("form", name=f"Add an email account for {rep}")
    form.get_by_label("Email address").fill(address)
    form.get_by_label("Incoming server").select_option(incoming)
    form.get_by_label("Outgoing server").select_option("hq-smtp")
    form.get_by_label("User name").fill(address)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name=f"Add the mailbox for {rep}").click()
    expect(page.get_by_role("status")).to_contain_text("The mailbox was added")
    row = page.get_by_role("row").filter(has_text=address)
    expect(row).to_contain_text(f"{incoming} / hq-smtp")
    expect(row.get_by_role("switch", name=f"Receive {address}")).to_be_checked()
    expect(row.get_by_role("switch", name=f"Send {address}")).to_be_checked()


def _test_my_account(page: Page, address: str) -> None:
    """My User Options > Email: the rep sees the account entered for them and tests it."""
    go(page, "My profile")
    page.get_by_role("button", name=f"Send a test email from {address}").click()
    expect(page.locator(f"#report-{slug(address)}")).to_contain_text("passed")
    expect(page.locator(f"#report-{slug(address)} .badge.bad")).to_have_count(0)


@pytest.mark.usefixtures("trust_test_ca")
def test_support_reps_work_requests_from_their_own_email_accounts(
    page: Page, dovecot: Dovecot, worker: Worker, screenshot: Shoot
) -> None:
    tag = uuid.uuid4().hex[:6]
    ann, bob = f"ann-{tag}@helpdesk.test", f"bob-{tag}@branch.test"
    dovecot.add_user(ann, "ann-mail-1")
    dovecot.add_user(bob, "bob-mail-1")
    add_user("admin@helpdesk.test", "admin-pass-1", admin=True)
    add_user("ann@helpdesk.test", "ann-pass-1")
    add_user("bob@helpdesk.test", "bob-pass-1")
    accounts = {ann: "ann-mail-1", bob: "bob-mail-1"}
    with SmtpServer(users=accounts, tls=False) as smtp:
        # Mail Server Settings: the reps' accounts live on separate servers.
        sign_in(page, "admin@helpdesk.test", "admin-pass-1")
        _add_server(page, "hq-pop3", "pop3", dovecot.pop3_port)
        _add_server(page, "hq-smtp", "smtp", smtp.port)
        _add_server(page, "branch-imap", "imap", dovecot.imap_port)
        go(page, "Mail settings")
        for name in ("hq-pop3", "hq-smtp", "branch-imap"):
            expect(page.get_by_role("link", name=name)).to_be_visible()
        go(page, "Workflows")
        page.get_by_label("Name", exact=True).fill("Service requests")
        page.get_by_label("Steps, in order").fill("New, Open, Resolved")
        page.get_by_role("button", name="Add the workflow").click()
        for rep in ("ann@helpdesk.test", "bob@helpdesk.test"):
            page.get_by_label("Give Service requests to").select_option(rep)
            page.get_by_role("button", name="Give").click()
            expect(page.get_by_role("cell", name=rep)).to_be_visible()
        # Users > a rep > Email: the administrator enters each rep's own account.
        _enter_a_reps_account(page, "ann@helpdesk.test", ann, "hq-pop3", "ann-mail-1")
        _enter_a_reps_account(page, "bob@helpdesk.test", bob, "branch-imap", "bob-mail-1")
        go(page, "Audit log")
        added = page.get_by_role("row").filter(has_text="mailbox.added").filter(has_text=ann)
        expect(added).to_contain_text("admin@helpdesk.test")  # entered by the administrator
        sign_out(page)
        worker.wait_for_a_run(ann)  # the worker's first look, at empty accounts
        worker.wait_for_a_run(bob)

        # Ann: POP3/SMTP. Her inbox makes a request of a customer's email.
        sign_in(page, "ann@helpdesk.test", "ann-pass-1")
        _test_my_account(page, ann)
        dovecot.deliver(ann, [email_from(CUSTOMER, "VPN drops every hour", "Since Monday.")])
        assert fetch_now(page, ann) == "1 fetched, 0 requests opened, 1 held, 0 failed."
        go(page, "Email inbox")
        page.get_by_role("link", name="VPN drops every hour").click()
        page.get_by_label("Workflow").select_option("Service requests")
        page.get_by_role("button", name="Open a request").click()
        heading = page.get_by_role("heading", name="VPN drops every hour")
        expect(heading).to_be_visible()
        expect(page.get_by_text("step Open")).to_be_visible()
        number = (heading.text_content() or "").split()[0].lstrip("#")
        sign_out(page)

        # Bob: IMAP/SMTP on another server. The customer writes to him too; his inbox adds
        # that email to the request Ann opened.
        sign_in(page, "bob@helpdesk.test", "bob-pass-1")
        _test_my_account(page, bob)
        dovecot.deliver(bob, [email_from(CUSTOMER, "VPN again", "Still dropping.")])
        assert fetch_now(page, bob) == "1 fetched, 0 requests opened, 1 held, 0 failed."
        go(page, "Email inbox")
        expect(page.get_by_role("link", name="VPN drops every hour")).to_have_count(0)  # Ann's
        page.get_by_role("link", name="VPN again").click()
        page.get_by_label("Find a request").fill(f"#{number}")
        page.get_by_role("button", name=f"Attach to request {number}").click()
        expect(page.get_by_role("heading", name="VPN drops every hour")).to_be_visible()
        expect(page.get_by_text("Still dropping.")).to_be_visible()
        expect(page.get_by_text("Since Monday.")).to_be_visible()
        screenshot(page, "seed-003-helpstar")
        sign_out(page)

        # Ann updates the request by email from her own account.
        sign_in(page, "ann@helpdesk.test", "ann-pass-1")
        go(page, "Requests")
        page.get_by_role("link", name="VPN drops every hour").click()
        page.get_by_label("Send from").select_option(ann)
        page.get_by_label("Message", exact=True).fill("Please update your VPN client to 5.2.")
        page.get_by_role("button", name="Send reply").click()
        expect(page.get_by_role("status")).to_contain_text("Your reply is in the outbox")
        status = page.get_by_label(f"Message from {ann}").locator(".delivery .badge")
        expect(status).to_have_text("sent", timeout=15_000)  # the worker sent it; the page asked
        sent = smtp.wait_for(3)[2]  # after the two test emails
        assert (sent.mail_from, sent.rcpt_tos, sent.username) == (ann, [CUSTOMER], ann)
        # Outbox: her sent mail, with the customer's server's answer.
        go(page, "Outbox")
        page.get_by_label("Mailbox").select_option(ann)
        page.get_by_role("button", name="Filter").click()
        reply = page.get_by_role("row").filter(has_text="VPN drops every hour")
        expect(reply.locator(".badge").first).to_have_text("sent")
        expect(reply.locator("li", has_text=CUSTOMER)).to_contain_text("accepted")
        expect(page.get_by_role("row").filter(has_text=bob)).to_have_count(0)

        # The customer's answer to it lands in Ann's account and updates the request itself.
        answer = email_from(
            CUSTOMER,
            f"Re: {sent.message()['Subject']}",
            "Updated, all good now.",
            headers={"In-Reply-To": str(sent.message()["Message-ID"])},
        )
        dovecot.deliver(ann, [answer])
        go(page, "My profile")
        assert fetch_now(page, ann) == "1 fetched, 0 requests opened, 0 held, 0 failed."
        go(page, "Requests")
        page.get_by_role("link", name="VPN drops every hour").click()
        expect(page.get_by_text("Updated, all good now.")).to_be_visible()
        go(page, "Email inbox")
        expect(page.get_by_text("Nothing is waiting.")).to_be_visible()
