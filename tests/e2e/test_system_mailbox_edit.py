"""Editing a system mailbox in chromium (seeds 000 and 002): its workflow, the receive switch and
the after-import action change, a refused change shows why, and fetching follows the edit."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from postroom.services import fetching, mailboxes, servers, workflows
from postroom.services.actors import OPERATOR
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec
from postroom.storage.db import default_engine, unit_of_work
from tests.e2e.conftest import Shoot
from tests.e2e.test_console import add_user, sign_in
from tests.servers.dovecot import Dovecot


def test_an_admin_edits_a_system_mailbox_and_fetching_follows(
    page: Page, dovecot: Dovecot, screenshot: Shoot
) -> None:
    desk = f"desk-{uuid.uuid4().hex[:8]}@example.test"
    dovecot.add_user(desk, "desk-pass-1")
    with unit_of_work() as db:
        for name, protocol, port in (
            ("office-imap", "imap", dovecot.imap_port),
            ("office-pop", "pop3", dovecot.pop3_port),
        ):
            spec = ServerSpec(
                name=name, protocol=protocol, host="127.0.0.1", port=port, security="none"
            )
            servers.add(db, OPERATOR, spec)
        workflows.add(db, OPERATOR, "Support", ["New", "Done"])
        workflows.add(db, OPERATOR, "Sales", ["New", "Won"])
        mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec(
                address=desk,
                incoming="office-imap",
                system=True,
                password="desk-pass-1",
                workflow="Support",
            ),
        )
    add_user("admin@example.test", "admin-pass-1", admin=True)
    sign_in(page, "admin@example.test", "admin-pass-1")
    page.goto("/settings/mailboxes")
    page.get_by_role("link", name=f"Edit {desk}").click()
    expect(page.get_by_role("heading", name=f"Edit system mailbox {desk}")).to_be_visible()
    expect(page.get_by_label("Workflow")).to_have_value("Support")
    expect(page.get_by_label("Receive new mail")).to_be_checked()

    # POP3 has no folders: moving after import is refused and nothing is saved.
    page.get_by_label("Incoming server").select_option("office-pop")
    page.get_by_label("After import").select_option("move")
    page.get_by_label("Move to folder").fill("Processed")
    page.get_by_role("button", name="Save the mailbox").click()
    expect(page.locator(".error")).to_contain_text("POP3 has no read flag or folders")
    with unit_of_work() as db:
        kept = mailboxes.get_system(db, OPERATOR, desk).incoming_server
        assert kept is not None and kept.name == "office-imap"

    page.get_by_label("Incoming server").select_option("office-imap")
    page.get_by_label("Workflow").select_option("Sales")
    page.get_by_label("Receive new mail").uncheck()
    page.get_by_label("Poll interval (seconds)").fill("300")
    page.get_by_role("button", name="Save the mailbox").click()
    expect(page.get_by_role("status")).to_contain_text("The mailbox was saved")
    with unit_of_work() as db:
        saved = mailboxes.get_system(db, OPERATOR, desk)
        assert saved.workflow is not None and saved.workflow.name == "Sales"
        assert (saved.receive_enabled, saved.after_import, saved.poll_interval) == (
            False,
            "move:Processed",
            300,
        )
    assert fetching.fetch_once(default_engine()) == []  # the only mailbox no longer receives

    page.get_by_role("link", name=f"Edit {desk}").click()
    expect(page.get_by_label("Move to folder")).to_have_value("Processed")
    expect(page.get_by_label("Receive new mail")).not_to_be_checked()
    screenshot(page, "system-mailbox-edit")
    page.get_by_label("Receive new mail").check()
    page.get_by_role("button", name="Save the mailbox").click()
    expect(page.get_by_role("status")).to_contain_text("The mailbox was saved")
    runs = fetching.fetch_once(default_engine(), desk)
    assert len(runs) == 1 and runs[0].error is None
