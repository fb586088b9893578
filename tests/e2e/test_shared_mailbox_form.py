"""The add-mailbox forms in chromium say which kind of mailbox it is: an administrator adds a
Microsoft 365 shared mailbox worked through a person's sign-in, sending on behalf; an agent
adds the shared desk to their own mailboxes and signs in with Microsoft as themselves."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from postroom.services import mailboxes
from postroom.services.actors import OPERATOR
from postroom.storage.db import unit_of_work
from tests.conftest import Cli
from tests.e2e.conftest import Shoot
from tests.e2e.test_console import add_user, sign_in
from tests.integration.oauthhelpers import add_apps, add_cloud_servers, ok
from tests.mailfactory import email_from
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer

DESK = "desk@contoso.test"
ANN = "ann@contoso.test"


def test_the_system_form_offers_the_kinds_of_mailbox_and_records_the_choice(
    cli: Cli, cloud: IdentityServer, graph: GraphServer, page: Page, screenshot: Shoot
) -> None:
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    add_user("admin@contoso.test", "admin-pass-1", admin=True)
    sign_in(page, "admin@contoso.test", "admin-pass-1")
    page.goto("/settings/mailboxes")
    kinds = page.get_by_role("group", name="Kind of mailbox")
    expect(kinds.get_by_label("Own mailbox")).to_be_checked()
    expect(kinds.get_by_label("Microsoft 365 shared mailbox, app-only access")).to_be_visible()
    expect(kinds).to_contain_text("No licence or password of its own")
    expect(kinds).to_contain_text("A person with Full Access to the shared mailbox")
    sending = page.get_by_role("group", name="How mail is sent from a shared mailbox")
    expect(sending).to_contain_text("Needs the Send As right")

    form = page.locator("form[aria-labelledby=add]")
    form.get_by_label("Email address").fill(DESK)
    form.get_by_label("Incoming server").select_option("graph")
    form.get_by_label("Outgoing server").select_option("graph")
    form.get_by_label("OAuth app").select_option("m365")
    # App-only with a person's send mode would be refused; a delegate without an app too.
    kinds.get_by_label("Microsoft 365 shared mailbox, through a person’s sign-in").check()
    sending.get_by_label("Send on behalf").check()
    kinds.scroll_into_view_if_needed()
    screenshot(page, "shared-mailbox-kind")
    form.get_by_role("button", name="Save the mailbox").click()
    row = page.get_by_role("row").filter(has_text=DESK)
    expect(row).to_contain_text("shared · send on behalf")
    shown = ok(cli, "mailbox", "show", DESK)
    assert (shown["access"], shown["send_mode"]) == ("shared-delegate", "send-on-behalf")


def test_app_only_on_a_mailbox_without_graph_servers_is_refused_beside_the_choice(
    cli: Cli, cloud: IdentityServer, graph: GraphServer, page: Page
) -> None:
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    ok(cli, "server", "add", "smtp-out", "--protocol", "smtp", "--host", "127.0.0.1")
    add_user("admin@contoso.test", "admin-pass-1", admin=True)
    sign_in(page, "admin@contoso.test", "admin-pass-1")
    page.goto("/settings/mailboxes")
    form = page.locator("form[aria-labelledby=add]")
    form.get_by_label("Email address").fill(DESK)
    form.get_by_label("Incoming server").select_option("graph")
    form.get_by_label("Outgoing server").select_option("smtp-out")
    form.get_by_label("OAuth app").select_option("m365")
    form.get_by_label("Microsoft 365 shared mailbox, app-only access").check()
    form.get_by_role("button", name="Save the mailbox").click()
    expect(
        page.get_by_role("alert").filter(has_text="through Microsoft Graph only")
    ).to_be_visible()
    expect(form.get_by_label("Microsoft 365 shared mailbox, app-only access")).to_be_checked()
    with unit_of_work() as db:
        assert mailboxes.listing(db, OPERATOR) == []


def test_an_agent_adds_a_shared_mailbox_and_signs_in_as_themselves(
    cli: Cli,
    cloud: IdentityServer,
    graph: GraphServer,
    browser: Browser,
    live_url: str,
    screenshot: Shoot,
) -> None:
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    add_user(ANN, "a-long-password-1")
    cloud.sign_in_as = ANN
    graph.grant(DESK, ANN, "full-access", "send-on-behalf")
    context = browser.new_context(base_url=live_url, ignore_https_errors=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, ANN, "a-long-password-1")
        page.goto("/profile/mailboxes")
        form = page.locator("form[aria-labelledby=add-shared]")
        expect(page.get_by_text("you sign in with your own Microsoft account")).to_be_visible()
        form.get_by_label("Shared mailbox address").fill(DESK)
        form.get_by_label("Send on behalf").check()
        form.get_by_role("button", name="Add the shared mailbox").click()
        expect(page.get_by_text("sign in with Microsoft as yourself")).to_be_visible()
        page.get_by_role("link", name=f"Sign in with Microsoft to connect {DESK}").click()
        expect(page).to_have_url(f"{live_url}/profile/mailboxes?notice=mailbox-connected")
        row = page.get_by_role("row").filter(has_text=DESK)
        expect(row).to_contain_text(f"shared · send on behalf · signed in as {ANN}")
        screenshot(page, "my-shared-mailbox")
    finally:
        context.close()
    shown = ok(cli, "mailbox", "show", DESK, "--owner", ANN)
    assert (shown["access"], shown["oauth_account"]) == ("shared-delegate", ANN)
    scopes = " ".join(t.scope for t in cloud.tokens.values())
    assert "Mail.ReadWrite.Shared" in scopes and "Mail.Send.Shared" in scopes


def test_an_admin_adds_a_shared_mailbox_with_app_only_access_and_connects_it(
    cli: Cli, cloud: IdentityServer, graph: GraphServer, page: Page
) -> None:
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    ok(cli, "workflow", "add", "Support", "--steps", "New,Done")
    add_user("admin@contoso.test", "admin-pass-1", admin=True)
    sign_in(page, "admin@contoso.test", "admin-pass-1")
    page.goto("/settings/mailboxes")
    form = page.locator("form[aria-labelledby=add]")
    form.get_by_label("Email address").fill(DESK)
    form.get_by_label("Workflow").select_option("Support")
    form.get_by_label("Incoming server").select_option("graph")
    form.get_by_label("Outgoing server").select_option("graph")
    form.get_by_label("OAuth app").select_option("m365")
    form.get_by_label("Microsoft 365 shared mailbox, app-only access").check()
    form.get_by_role("button", name="Save the mailbox").click()
    row = page.get_by_role("row").filter(has_text=DESK)
    expect(row).to_contain_text("shared · app-only access")
    row.get_by_role("button", name=f"Connect {DESK} with app-only access").click()
    expect(page.get_by_text("signed in with its provider")).to_be_visible()
    assert [r["grant_type"] for r in cloud.token_requests] == ["client_credentials"]
    graph.deliver(DESK, [email_from("customer@example.org", subject="Printer on fire")])
    assert ok(cli, "fetch", "--once")[0]["opened"] == 1
