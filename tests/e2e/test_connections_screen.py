"""The Infor seed's named connections in chromium: added with timeouts and sign-in, edited,
and tested step by step against a real SMTP server."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from postroom.services import connections, mailboxes, servers
from postroom.services.actors import OPERATOR
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec
from postroom.storage.db import unit_of_work
from tests.e2e.conftest import Shoot
from tests.e2e.test_console import add_user, sign_in
from tests.servers.smtp import SmtpServer


@pytest.mark.usefixtures("trust_test_ca")
def test_an_admin_adds_edits_and_tests_a_connection(
    page: Page, smtp_server: SmtpServer, screenshot: Shoot
) -> None:
    with unit_of_work() as db:
        spec = ServerSpec(
            name="relay",
            protocol="smtp",
            host="127.0.0.1",
            port=smtp_server.port,
            security="starttls",
        )
        servers.add(db, OPERATOR, spec)
        mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec(
                address="desk@example.test", outgoing="relay", system=True, password="desk-pass-1"
            ),
        )
    add_user("admin@example.test", "admin-pass-1", admin=True)
    sign_in(page, "admin@example.test", "admin-pass-1")
    page.goto("/settings/connections")

    page.get_by_label("Name", exact=True).fill("infor")
    page.get_by_label("Sending mailbox").select_option("desk@example.test")
    page.get_by_label("Connect timeout (seconds)").fill("abc")
    page.get_by_role("button", name="Add the connection").click()
    expect(page.locator(".error")).to_contain_text("not a number of seconds")
    page.get_by_label("Connect timeout (seconds)").fill("10")
    page.get_by_label("Send timeout (seconds)").fill("30")
    page.get_by_label("Authentication").select_option("basic")
    page.get_by_label("Action base URL").fill("https://erp.example.test/")
    page.get_by_role("button", name="Add the connection").click()
    expect(page.get_by_role("status")).to_contain_text("The connection was added")
    expect(page.get_by_role("cell", name="10.0 / 30.0")).to_be_visible()

    page.get_by_role("button", name="Test connection infor").click()
    report = page.locator("td .report")
    expect(report).to_contain_text("passed")
    for step in ("connect", "starttls", "login", "envelope"):
        expect(report).to_contain_text(step)
    screenshot(page, "connections-test")

    page.get_by_role("link", name="Edit connection infor").click()
    expect(page.get_by_role("heading", name="Edit connection infor")).to_be_visible()
    expect(page.get_by_label("Send timeout (seconds)")).to_have_value("30.0")
    page.get_by_label("Security").select_option("tls")
    page.get_by_label("Send timeout (seconds)").fill("")
    screenshot(page, "connections-edit")
    page.get_by_role("button", name="Save the connection").click()
    expect(page.get_by_role("status")).to_contain_text("The connection was saved")
    with unit_of_work() as db:
        saved = connections.get(db, "infor")
        assert (saved.security, saved.send_timeout, saved.connect_timeout) == ("tls", None, 10.0)

    # Implicit TLS against a STARTTLS port: the report shows the step that failed.
    page.get_by_role("button", name="Test connection infor").click()
    expect(report).to_contain_text("failed")
    expect(report).to_contain_text("tls")
