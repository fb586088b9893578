"""Seed 001 (Infor, email connections) in chromium: two mail servers for two purposes, a named
connection to each with TLS, connect and send timeouts (blank: none), Basic sign-in and an
action base URL; Test connection shows each step; OAuth2 is refused for a mailbox that has no
sign-in; and a process that sends through a connection by name reaches that connection's
server, with its action links rewritten."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from postroom.config import get_settings
from tests.cloud_fixtures import CLIENT_ID, CLIENT_SECRET
from tests.conftest import USERS
from tests.e2e.conftest import Shoot
from tests.e2e.story_steps import go, reload_until, sign_in
from tests.e2e.test_console import add_user
from tests.e2e.worker import Worker
from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot
from tests.servers.identity import IdentityServer
from tests.servers.smtp import SmtpServer

DESK = "desk@example.test"


def _add_server(page: Page, name: str, port: int, security: str, *, test: bool = True) -> None:
    go(page, "Mail settings")
    page.get_by_role("link", name="Add a server").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Protocol").select_option("smtp")
    page.get_by_label("Host").fill("127.0.0.1")
    page.get_by_label("Port").fill(str(port))
    page.get_by_label("Security").select_option(security)
    if test:
        page.get_by_role("button", name="Test connection").click()
        expect(page.locator("#report")).to_contain_text("passed")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("The server was added")


def _add_sender(page: Page, address: str, server: str, login: str, password: str) -> None:
    go(page, "System mailboxes")
    page.get_by_label("Email address").fill(address)
    page.get_by_label("Outgoing server").select_option(server)
    page.get_by_label("User name").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Save the mailbox").click()
    expect(page.get_by_role("status")).to_contain_text("The mailbox was added")


def _add_connection(
    page: Page, name: str, mailbox: str, security: str, timeouts: tuple[str, str], base: str
) -> None:
    go(page, "Connections")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Sending mailbox").select_option(mailbox)
    page.get_by_label("Security").select_option(security)
    page.get_by_label("Connect timeout (seconds)").fill(timeouts[0])
    page.get_by_label("Send timeout (seconds)").fill(timeouts[1])
    page.get_by_label("Authentication").select_option("basic")
    page.get_by_label("Action base URL").fill(base)
    page.get_by_role("button", name="Add the connection").click()
    expect(page.get_by_role("status")).to_contain_text("The connection was added")


@pytest.mark.usefixtures("trust_test_ca")
def test_an_admin_sets_up_connections_that_processes_send_through(
    page: Page,
    smtp_server: SmtpServer,
    smtps_server: SmtpServer,
    worker: Worker,
    screenshot: Shoot,
) -> None:
    smtp_server.clear()
    smtps_server.clear()
    add_user("admin@example.test", "admin-pass-1", admin=True)
    sign_in(page, "admin@example.test", "admin-pass-1")

    # Mail Server and Enable TLS: one server with STARTTLS, one with TLS from the start.
    _add_server(page, "mail-hq", smtp_server.port, "starttls")
    _add_server(page, "mail-ops", smtps_server.port, "tls")
    # User Name and Password: the sending mailbox's, stored encrypted.
    _add_sender(page, "workunits@example.test", "mail-hq", "desk@example.test", "desk-pass-1")
    _add_sender(page, "alerts@example.test", "mail-ops", "ann", "ann-pass-2")

    _add_connection(
        page,
        "workunit-issues",
        "workunits@example.test",
        "starttls",
        ("10", "30"),
        "https://erp.example.test:8443/",
    )
    _add_connection(page, "ops-alerts", "alerts@example.test", "tls", ("", ""), "")
    issues = page.get_by_role("row").filter(has_text="workunit-issues")
    expect(issues).to_contain_text("10.0 / 30.0")
    expect(issues).to_contain_text("https://erp.example.test:8443")
    expect(page.get_by_role("row").filter(has_text="ops-alerts")).to_contain_text("none / none")

    # Test Connection: a success message, step by step, for each.
    for name, steps in (
        ("workunit-issues", ("connect", "starttls", "login", "envelope")),
        ("ops-alerts", ("connect", "tls", "login", "envelope")),
    ):
        page.get_by_role("button", name=f"Test connection {name}").click()
        report = page.locator(f"#report-{name}")
        expect(report).to_contain_text("passed")
        for step in steps:
            expect(report).to_contain_text(step)
        expect(report.locator(".badge.bad")).to_have_count(0)
    screenshot(page, "seed-001-infor")
    assert ("workunits@example.test", ["workunits@example.test"]) in smtp_server.envelopes
    assert ("alerts@example.test", ["alerts@example.test"]) in smtps_server.envelopes

    # Auth Type OAuth2 needs a mailbox signed in with an OAuth app: refused, and said why.
    page.get_by_role("link", name="Edit connection workunit-issues").click()
    page.get_by_label("Authentication").select_option("oauth2")
    page.get_by_role("button", name="Save the connection").click()
    expect(page.locator(".error")).to_contain_text("has no OAuth app: connect it with OAuth2")
    page.get_by_role("link", name="Cancel").click()
    expect(issues).to_contain_text("basic")

    # A process picks the connection by name (with an API token made in the console).
    go(page, "My profile")
    page.get_by_role("link", name="My API tokens").click()
    page.get_by_label("Name", exact=True).fill("erp-workunits")
    page.get_by_role("button", name="Make the token").click()
    token = page.locator("#new-token").text_content() or ""
    public = get_settings().public_url.rstrip("/")
    answer = httpx.post(
        f"{page.url.split('/profile')[0]}/api/v1/outbox",
        headers={"Authorization": f"Bearer {token.strip()}"},
        json={
            "sender": "workunits@example.test",
            "to": ["owner@example.org"],
            "subject": "Workunit 7 failed",
            "text": f"Retry it: {public}/actions/retry?workunit=7",
            "connection": "workunit-issues",
        },
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["connection"] == "workunit-issues"
    [sent] = smtp_server.wait_for(1)  # the worker's outbox turn
    assert (sent.mail_from, sent.rcpt_tos, sent.username, sent.tls) == (
        "workunits@example.test",
        ["owner@example.org"],
        "desk@example.test",
        True,
    )
    body = sent.message().get_body(("plain",))
    assert body is not None
    assert "https://erp.example.test:8443/actions/retry?workunit=7" in body.get_content()
    assert smtps_server.messages == []

    # Outbox: the item went through workunit-issues, and the server accepted its recipient.
    go(page, "Outbox")
    page.get_by_label("Connection").select_option("workunit-issues")
    page.get_by_role("button", name="Filter").click()
    item = page.get_by_role("row").filter(has_text="Workunit 7 failed")
    reload_until(page, item.locator(".badge").first, "sent")
    expect(item).to_contain_text("via workunit-issues")
    expect(item.locator("li", has_text="owner@example.org")).to_contain_text("accepted")
    page.get_by_label("Connection").select_option("ops-alerts")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No email matches.")).to_be_visible()


@pytest.mark.usefixtures("trust_test_ca")
def test_a_connection_signs_in_with_oauth2(
    cloud: IdentityServer, test_ca: TestCA, browser: Browser, live_url: str
) -> None:
    """Auth Type OAuth2 with its OAuth2 configuration: the sending mailbox signed in once in
    the browser, and the connection signs in to a real Dovecot submission server (which checks
    the token at the identity server) with XOAUTH2."""
    add_user("admin@example.test", "admin-pass-1", admin=True)
    with (
        SmtpServer(ca=test_ca, tls=False) as relay,
        Dovecot(
            users=USERS,
            ca=test_ca,
            oauth2_introspection_url=cloud.introspection_url,
            submission_relay_port=relay.port,
        ) as dovecot,
    ):
        # The identity server's certificate comes from the test CA, which chromium does not know.
        context = browser.new_context(base_url=live_url, ignore_https_errors=True)
        context.set_default_timeout(15_000)
        page = context.new_page()
        try:
            sign_in(page, "admin@example.test", "admin-pass-1")
            # Creating OAuth2 configuration.
            go(page, "OAuth apps")
            page.get_by_label("Name", exact=True).fill("erp-oauth")
            page.get_by_label("Provider").select_option("microsoft")
            page.get_by_label("Application (client) ID").fill(CLIENT_ID)
            page.get_by_label("Client secret").fill(CLIENT_SECRET)
            page.get_by_role("button", name="Add the OAuth app").click()
            _add_server(page, "mail-submission", dovecot.submission_port, "none", test=False)
            go(page, "System mailboxes")
            page.get_by_label("Email address").fill(DESK)
            page.get_by_label("Outgoing server").select_option("mail-submission")
            page.get_by_label("OAuth app").select_option("erp-oauth")
            page.get_by_role("button", name="Save the mailbox").click()
            expect(page.get_by_role("status")).to_contain_text("The mailbox was added")
            cloud.sign_in_as = DESK
            page.get_by_role("link", name=f"Sign in {DESK}").click()
            expect(page.get_by_role("status")).to_contain_text("signed in with its provider")

            go(page, "Connections")
            page.get_by_label("Name", exact=True).fill("erp-oauth2")
            page.get_by_label("Sending mailbox").select_option(DESK)
            page.get_by_label("Authentication").select_option("oauth2")
            page.get_by_role("button", name="Add the connection").click()
            expect(page.get_by_role("status")).to_contain_text("The connection was added")
            page.get_by_role("button", name="Test connection erp-oauth2").click()
            report = page.locator("#report-erp-oauth2")
            expect(report).to_contain_text("passed")
            # No password is stored: Dovecot let the access token in after asking the
            # identity server about it.
            expect(report).to_contain_text("login ok")
            expect(report).to_contain_text(f"signed in as {DESK}")
            expect(report.locator(".badge.bad")).to_have_count(0)
        finally:
            context.close()
