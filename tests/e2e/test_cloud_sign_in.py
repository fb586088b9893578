"""The console's *Add an Office 365 mailbox* and *Add a Gmail mailbox* buttons, in chromium,
through the local identity server: authorization code with PKCE, and back to My mailboxes."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import Cli
from tests.e2e.test_console import add_user, sign_in
from tests.integration.oauthhelpers import add_apps, add_cloud_servers
from tests.servers.gmail import GmailServer
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer


@pytest.mark.parametrize(
    ("button", "account", "server"),
    [
        ("Add an Office 365 mailbox", "ann@contoso.test", "graph"),
        ("Add a Gmail mailbox", "ann@gmail.test", "gmail"),
    ],
)
def test_the_provider_buttons_complete_a_sign_in_in_the_browser(
    cli: Cli,
    cloud: IdentityServer,
    graph: GraphServer,
    gmail: GmailServer,
    browser: Browser,
    live_url: str,
    button: str,
    account: str,
    server: str,
) -> None:
    add_apps(cli)
    add_cloud_servers(cli, graph, gmail)
    add_user(account, "a-long-password-1")
    cloud.sign_in_as = account
    # The identity server's certificate comes from the test CA, which chromium does not know;
    # postroom itself verifies it (SSL_CERT_FILE points at the test CA).
    context = browser.new_context(base_url=live_url, ignore_https_errors=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, account, "a-long-password-1")
        page.goto("/profile/mailboxes")
        page.get_by_role("link", name=button).click()
        expect(page).to_have_url(f"{live_url}/profile/mailboxes?notice=mailbox-connected")
        expect(page.get_by_text("signed in with its provider")).to_be_visible()
        row = page.get_by_role("row").filter(has_text=account).filter(has_text=server)
        expect(row).to_be_visible()
    finally:
        context.close()
    assert any(r["grant_type"] == "authorization_code" for r in cloud.token_requests)


@pytest.mark.parametrize(
    ("button", "label"),
    [
        ("Add an Office 365 mailbox", "Microsoft (Office 365)"),
        ("Add a Gmail mailbox", "Google (Gmail)"),
    ],
)
def test_a_provider_button_without_an_oauth_app_says_what_an_administrator_must_do(
    browser: Browser, live_url: str, button: str, label: str
) -> None:
    add_user("ann@example.test", "a-long-password-1")
    context = browser.new_context(base_url=live_url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, "ann@example.test", "a-long-password-1")
        page.goto("/profile/mailboxes")
        page.get_by_role("link", name=button).click()
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text(f"Signing in with {label} needs an OAuth app")
        expect(alert).to_contain_text("oauth-app add")
        expect(alert).to_contain_text("/oauth/callback")  # the redirect URI to register
        assert "problem" not in page.content() and "about:blank#" not in page.content()
    finally:
        context.close()
