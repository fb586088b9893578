"""Seed 004 (Actionstep, personal mailboxes) as a user lives it in chromium: on My profile they
add an Office 365, a Gmail and an SMTP mailbox, pick the default, rename one, send test emails,
reconnect, and delete one with a reason that an administrator then reads in the audit log."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from postroom.services import servers
from postroom.services.actors import OPERATOR
from postroom.services.servers import ServerSpec
from postroom.storage.db import unit_of_work
from tests.conftest import USERS, Cli
from tests.e2e.conftest import Shoot
from tests.e2e.story_steps import sign_in, sign_out
from tests.e2e.test_console import add_user
from tests.integration.oauthhelpers import add_apps, add_cloud_servers
from tests.servers.gmail import GmailServer
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer
from tests.servers.smtp import SmtpServer

ANN = "ann@contoso.test"


def _row(page: Page, address: str, server: str) -> Locator:
    return page.get_by_role("row").filter(has_text=address).filter(has_text=server)


@pytest.mark.usefixtures("trust_test_ca")
def test_a_user_sets_up_and_looks_after_personal_mailboxes(
    cli: Cli,
    cloud: IdentityServer,
    graph: GraphServer,
    gmail: GmailServer,
    browser: Browser,
    live_url: str,
    screenshot: Shoot,
) -> None:
    # What an administrator did beforehand (seed 002's story does it in the console).
    add_apps(cli)
    add_cloud_servers(cli, graph, gmail)
    add_user(ANN, "ann-pass-1")
    add_user("admin@contoso.test", "admin-pass-1", admin=True)
    # The identity server's certificate comes from the test CA, which chromium does not know.
    context = browser.new_context(base_url=live_url, ignore_https_errors=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    with SmtpServer(users=USERS, tls=False) as smtp:
        with unit_of_work() as db:
            spec = ServerSpec(
                name="firm-smtp",
                protocol="smtp",
                host="127.0.0.1",
                port=smtp.port,
                security="none",
            )
            servers.add(db, OPERATOR, spec)
        try:
            _story(page, cloud, graph, gmail, smtp, screenshot)
        finally:
            context.close()


def _story(
    page: Page,
    cloud: IdentityServer,
    graph: GraphServer,
    gmail: GmailServer,
    smtp: SmtpServer,
    screenshot: Shoot,
) -> None:
    # 1. Click the profile link: My profile with its Email mailboxes section.
    sign_in(page, ANN, "ann-pass-1")
    page.get_by_role("link", name="My profile").click()
    expect(page.get_by_role("heading", name="My profile: email mailboxes")).to_be_visible()

    # 2a. Add an Office 365 mailbox: the provider's sign-in page, then back to My profile.
    cloud.sign_in_as = ANN
    page.get_by_role("link", name="Add an Office 365 mailbox").click()
    expect(page.get_by_text("signed in with its provider")).to_be_visible()
    expect(_row(page, ANN, "graph")).to_be_visible()

    # 2b. Add a Gmail mailbox: the Google account chosen at the sign-in.
    cloud.sign_in_as = "ann.firm@gmail.test"
    page.get_by_role("link", name="Add a Gmail mailbox").click()
    expect(page.get_by_text("signed in with its provider")).to_be_visible()
    expect(_row(page, "ann.firm@gmail.test", "gmail")).to_be_visible()

    # 2c. Add an SMTP mailbox with the details the firm's IT contact gave.
    page.get_by_label("Email address").fill("ann@firm.test")
    page.get_by_label("Outgoing server").select_option("firm-smtp")
    page.get_by_label("User name").fill("ann")
    page.get_by_label("Password", exact=True).fill("ann-pass-2")
    page.get_by_role("button", name="Add the mailbox").click()
    expect(page.get_by_role("status")).to_contain_text("The mailbox was added")
    expect(_row(page, "ann@firm.test", "firm-smtp")).to_be_visible()

    # Set as default: the one marked default changes, and only one is.
    page.get_by_role("button", name="Set ann.firm@gmail.test as default").click()
    expect(page.get_by_role("status")).to_contain_text("now your default")
    gmail_row = page.get_by_role("row").filter(has_text="ann.firm@gmail.test")
    expect(gmail_row.get_by_text("default", exact=True)).to_be_visible()
    expect(page.get_by_text("default", exact=True)).to_have_count(1)

    # Edit: the mailbox name.
    page.get_by_label(f"Name for {ANN}").fill("Ann at Contoso")
    page.get_by_role("row").filter(has_text=ANN).get_by_role("button", name="Save name").click()
    expect(page.get_by_role("status")).to_contain_text("name was saved")
    expect(page.get_by_label(f"Name for {ANN}")).to_have_value("Ann at Contoso")

    # Send test email, from each kind: it arrives where that mailbox sends.
    for address, slug in (
        (ANN, "ann-at-contoso-test"),
        ("ann.firm@gmail.test", "ann-firm-at-gmail-test"),
        ("ann@firm.test", "ann-at-firm-test"),
    ):
        page.get_by_role("button", name=f"Send a test email from {address}").click()
        report = page.locator(f"#report-{slug}")
        expect(report).to_contain_text(f"Test email: test email to {address} passed")
        expect(report.locator(".badge.bad")).to_have_count(0)
    assert [user for user, _, _ in graph.sent] == [ANN]
    assert b"postroom test email" in graph.sent[0][1]
    assert [user for user, _ in gmail.sent] == ["ann.firm@gmail.test"]
    [received] = smtp.wait_for(1)
    assert received.rcpt_tos == ["ann@firm.test"] and received.username == "ann"

    # Reconnect: the connection is reset and tested again; an expired access token is renewed.
    cloud.expire_access_tokens()
    report = page.locator("#report-ann-at-contoso-test")
    page.get_by_role("button", name=f"Reconnect {ANN}").click()
    expect(report).not_to_contain_text("Test email")  # the reconnect's own report
    expect(report).to_contain_text("Incoming: graph")
    expect(report.locator(".badge.bad")).to_have_count(0)
    expect(page.locator("#health-ann-at-contoso-test")).not_to_contain_text("failed")

    # Consent revoked at Microsoft: Reconnect says so, and signing in again mends it.
    cloud.revoke(ANN)
    page.get_by_role("button", name=f"Reconnect {ANN}").click()
    expect(report).to_contain_text("failed")
    expect(page.locator("#health-ann-at-contoso-test")).to_contain_text("auth-failed")
    cloud.sign_in_as = ANN
    page.get_by_role("link", name=f"Sign in again to {ANN}").click()
    expect(page.get_by_text("signed in with its provider")).to_be_visible()
    page.get_by_role("button", name=f"Send a test email from {ANN}").click()
    expect(report).to_contain_text(f"Test email: test email to {ANN} passed")
    expect(report.locator(".badge.bad")).to_have_count(0)
    assert [user for user, _, _ in graph.sent] == [ANN, ANN]
    screenshot(page, "seed-004-actionstep")

    # Delete, with the reason asked for; the reason is kept.
    page.get_by_label("Reason for deleting ann@firm.test").fill("Left the firm's SMTP relay")
    page.get_by_role("row").filter(has_text="ann@firm.test").get_by_role(
        "button", name="Delete"
    ).click()
    expect(page.get_by_role("status")).to_contain_text("removed")
    expect(page.get_by_role("row").filter(has_text="ann@firm.test")).to_have_count(0)
    sign_out(page)

    sign_in(page, "admin@contoso.test", "admin-pass-1")
    page.get_by_role("link", name="Audit log").click()
    entry = page.get_by_role("row").filter(has_text="ann@firm.test").filter(has_text="removed")
    expect(entry).to_contain_text("Left the firm's SMTP relay")
    expect(entry).to_contain_text(ANN)
