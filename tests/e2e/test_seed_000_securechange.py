"""Seed 000 (Tufin SecureChange, inbound mailboxes) as a workflow owner lives it in chromium:
the mail server set up and tested, a POP3 mailbox added for a workflow, mail to it opening a
request at the workflow's next step and leaving the server, and, with the workflow deactivated
or deleted, the mailbox still showing it while mail waits in the email inbox instead of opening
requests."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Shoot
from tests.e2e.story_steps import fetch_now, go, sign_in
from tests.e2e.test_console import add_user
from tests.e2e.worker import Worker
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot


def test_a_workflow_owner_opens_requests_by_mail(
    page: Page, dovecot: Dovecot, worker: Worker, screenshot: Shoot
) -> None:
    add_user("owner@example.test", "owner-pass-1", admin=True)
    sign_in(page, "owner@example.test", "owner-pass-1")

    # 1. Settings > Mail settings: the mail server, and Test connection before saving it.
    go(page, "Mail settings")
    page.get_by_role("link", name="Add a server").click()
    page.get_by_label("Name", exact=True).fill("mail-pop3")
    page.get_by_label("Protocol").select_option("pop3")
    page.get_by_label("Host").fill("127.0.0.1")
    page.get_by_label("Port").fill(str(dovecot.pop3_port))
    page.get_by_label("Security").select_option("none")
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#report")).to_contain_text("passed")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("The server was added")

    # 2. An email account made on the mail server for this workflow alone.
    mailbox = f"fw-requests-{uuid.uuid4().hex[:6]}@example.test"
    dovecot.add_user(mailbox, "fw-pass-1")

    go(page, "Workflows")
    page.get_by_label("Name", exact=True).fill("Firewall change")
    page.get_by_label("Steps, in order").fill("Submitted, Review, Implement")
    page.get_by_role("button", name="Add the workflow").click()
    expect(page.get_by_role("status")).to_contain_text("workflow")

    # 3-9. Add mail: a name, the workflow, the account's user name and password; test, save.
    go(page, "System mailboxes")
    page.get_by_label("Email address").fill(mailbox)
    page.get_by_label("Name", exact=True).fill("Firewall requests")
    page.get_by_label("Workflow").select_option("Firewall change")
    page.get_by_label("Incoming server").select_option("mail-pop3")
    page.get_by_label("User name").fill(mailbox)
    page.get_by_label("Password").fill("a-wrong-password")
    page.get_by_role("button", name="Test the account").click()  # 8. before saving
    tested = page.locator("#add-report")
    expect(tested).to_contain_text("failed")
    expect(tested).to_contain_text("login")
    page.get_by_label("Password").fill("fw-pass-1")
    page.get_by_role("button", name="Test the account").click()
    expect(tested).to_contain_text("passed")
    expect(tested.locator(".badge.bad")).to_have_count(0)
    page.get_by_role("button", name="Save the mailbox").click()  # 9.
    expect(page.get_by_role("status")).to_contain_text("The mailbox was added")
    page.get_by_role("button", name=f"Test {mailbox}").click()
    expect(page.locator("td .report")).to_contain_text("passed")
    row = page.get_by_role("row").filter(has_text=mailbox)
    expect(row).to_contain_text("Firewall change")  # the active workflow
    screenshot(page, "seed-000-securechange")
    worker.wait_for_a_run(mailbox)  # its first look, at an empty account

    # Mail to the account opens a request, moved on to the workflow's next step, and POP3
    # leaves nothing on the server.
    dovecot.deliver(mailbox, [email_from("dev@example.org", "Open port 443 on web-01", "Please.")])
    assert fetch_now(page, mailbox) == "1 fetched, 1 requests opened, 0 held, 0 failed."
    assert dovecot.count(mailbox) == 0
    go(page, "Requests")
    page.get_by_label("Workflow").select_option("Firewall change")
    page.get_by_role("button", name="Filter").click()
    request_row = page.get_by_role("row").filter(has_text="Open port 443 on web-01")
    expect(request_row).to_contain_text("Review")
    expect(request_row).to_contain_text("dev@example.org")
    page.get_by_role("link", name="Open port 443 on web-01").click()
    expect(page.get_by_text("step Review")).to_be_visible()
    expect(page.get_by_text("Please.")).to_be_visible()

    # The workflow deactivated: the mailbox still shows it, but mail opens no request.
    go(page, "Workflows")
    page.get_by_role("switch", name="Firewall change active").click()
    expect(page.get_by_role("row").filter(has_text="Firewall change")).to_contain_text("inactive")
    go(page, "System mailboxes")
    row = page.get_by_role("row").filter(has_text=mailbox)
    expect(row).to_contain_text("Firewall change")
    expect(row).to_contain_text("workflow inactive: new mail is held, no request opens")

    dovecot.deliver(mailbox, [email_from("ops@example.org", "Close port 23", "Telnet, really.")])
    assert fetch_now(page, mailbox) == "1 fetched, 0 requests opened, 1 held, 0 failed."
    assert dovecot.count(mailbox) == 0  # kept by postroom, not lost
    go(page, "Requests")
    expect(page.get_by_role("link", name="Open port 443 on web-01")).to_be_visible()
    expect(page.get_by_role("link", name="Close port 23")).to_have_count(0)
    go(page, "Email inbox")
    held = page.get_by_role("row").filter(has_text="Close port 23")
    expect(held).to_contain_text("workflow-inactive")

    # Active again, the kept email is routed with today's settings.
    go(page, "Workflows")
    page.get_by_role("switch", name="Firewall change active").click()
    go(page, "Email inbox")
    page.get_by_role("link", name="Close port 23").click()
    page.get_by_role("button", name="Reprocess").click()
    expect(page.get_by_role("status")).to_be_visible()
    go(page, "Requests")
    expect(page.get_by_role("row").filter(has_text="Close port 23")).to_contain_text("Review")

    # The workflow deleted: the mailbox still names it; mail is kept, with that reason.
    go(page, "Workflows")
    page.get_by_label("Reason for removing Firewall change").fill("Replaced by the change board")
    page.get_by_role("button", name="Remove Firewall change").click()
    expect(page.get_by_role("status")).to_contain_text("The workflow was removed")
    go(page, "System mailboxes")
    row = page.get_by_role("row").filter(has_text=mailbox)
    expect(row).to_contain_text("Firewall change")
    expect(row).to_contain_text("workflow deleted: new mail is held, no request opens")
    dovecot.deliver(mailbox, [email_from("dev@example.org", "Open port 8443", "Also this.")])
    assert fetch_now(page, mailbox) == "1 fetched, 0 requests opened, 1 held, 0 failed."
    go(page, "Email inbox")
    expect(page.get_by_role("row").filter(has_text="Open port 8443")).to_contain_text(
        "workflow-deleted"
    )
    go(page, "Audit log")
    removed = page.get_by_role("row").filter(has_text="workflow.removed")
    expect(removed).to_contain_text("Replaced by the change board")
