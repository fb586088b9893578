"""Receiving and sending health apart in the console (issue 13.13): a refused send test marks
only sending, and the badges change in place after Test email and Reconnect, without a reload."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from postroom.services import mailboxes, servers
from postroom.services.actors import OPERATOR
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec
from postroom.storage.db import unit_of_work
from tests.e2e.test_console import add_user, sign_in
from tests.mailfactory import email_from
from tests.servers.certs import TestCA
from tests.servers.scripted_pop3 import ScriptedPop3
from tests.servers.smtp import SmtpServer

ADDRESS = "ann@example.test"
MAILBOX = "ann.mail@example.test"


def test_send_and_receive_badges_update_after_test_and_reconnect(
    page: Page, test_ca: TestCA
) -> None:
    with (
        ScriptedPop3({"u1": email_from("cust@example.org", "Hi")}, "ann-mail-1") as pop,
        SmtpServer(users={MAILBOX: "smtp-other-2"}, tls=False, ca=test_ca) as smtp,
    ):
        with unit_of_work() as db:
            for name, protocol, port in (("in", "pop3", pop.port), ("out", "smtp", smtp.port)):
                servers.add(
                    db,
                    OPERATOR,
                    ServerSpec(
                        name=name, protocol=protocol, host="127.0.0.1", port=port, security="none"
                    ),
                )
        add_user(ADDRESS, "ann-pass-1")
        sign_in(page, ADDRESS, "ann-pass-1")  # before the mailbox, which the start page lists
        with unit_of_work() as db:
            mailboxes.add(
                db,
                OPERATOR,
                MailboxSpec(
                    address=MAILBOX,
                    incoming="in",
                    outgoing="out",
                    owner=ADDRESS,
                    password="ann-mail-1",
                ),
            )
        page.goto("/profile/mailboxes")
        health = page.locator("td.health")
        expect(health.locator("[data-side=send] .badge")).to_have_text("new")
        page.get_by_role("button", name=f"Send a test email from {MAILBOX}").click()
        expect(page.locator("td .report")).to_contain_text("failed")
        # The SMTP server refused the password; POP3 took it: only sending is marked.
        expect(health.locator("[data-side=send] .badge")).to_have_text("auth-failed")
        expect(health.locator("[data-side=receive] .badge")).to_have_text("ok")
        smtp.add_user(MAILBOX, "ann-mail-1")
        page.get_by_role("button", name="Reconnect").click()
        expect(health.locator("[data-side=send] .badge")).to_have_text("ok")
        expect(health.locator("[data-side=receive] .badge")).to_have_text("ok")
        expect(health).not_to_contain_text("auth-failed")
