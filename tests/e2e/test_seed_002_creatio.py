"""Seed 002 (Creatio, the Microsoft Exchange provider) in chromium, against the local Graph and
identity servers: an administrator registers the OAuth app (client ID and secret), adds the
Exchange service with its login format, makes it the provider of the company's domain, and
sets up a receive-only mailbox; a user's new email account is recognised from its domain,
signed in, and receives and sends."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.cloud_fixtures import CLIENT_ID, CLIENT_SECRET
from tests.e2e.conftest import Shoot
from tests.e2e.story_steps import fetch_now, go, sign_in, sign_out
from tests.e2e.test_console import add_user
from tests.e2e.worker import Worker
from tests.mailfactory import email_from
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer

pytestmark = pytest.mark.usefixtures("loopback_env", "loopback_only")

ANN, SALES = "ann@contoso.test", "sales@contoso.test"


def _admin_sets_up_the_provider(page: Page, graph: GraphServer) -> None:
    # OAuth 2.0: the Application (client) ID and Client secret from Microsoft Entra.
    go(page, "OAuth apps")
    page.get_by_label("Name", exact=True).fill("contoso-exchange")
    page.get_by_label("Provider").select_option("microsoft")
    page.get_by_label("Tenant").fill("contoso")
    page.get_by_label("Application (client) ID").fill(CLIENT_ID)
    page.get_by_label("Client secret").fill(CLIENT_SECRET)
    page.get_by_role("button", name="Add the OAuth app").click()
    app_row = page.get_by_role("row").filter(has_text="contoso-exchange")
    expect(app_row).to_contain_text("set")
    expect(page.get_by_text(CLIENT_SECRET)).to_have_count(0)  # never shown again

    # Add new server: service type Exchange (Microsoft Graph), its address, the login format.
    go(page, "Mail settings")
    page.get_by_role("link", name="Add a server").click()
    page.get_by_label("Name", exact=True).fill("contoso-exchange")
    page.get_by_label("Protocol").select_option("graph")
    page.get_by_label("Host").fill("127.0.0.1")
    page.get_by_label("Port").fill(str(graph.http.port))
    page.get_by_label("Login format").select_option("address")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("The server was added")

    # Email providers domains: the company's domain is recognised as this provider.
    go(page, "Providers")
    page.get_by_label("Name", exact=True).fill("contoso")
    page.get_by_label("Name shown").fill("Contoso Exchange")
    page.get_by_label("OAuth sign-in").select_option("microsoft")
    page.get_by_label("contoso-exchange").check()
    page.get_by_label("Domains").fill("contoso.test")
    page.get_by_role("button", name="Add the provider").click()
    expect(page.get_by_role("status")).to_contain_text("The provider was added")


def _admin_adds_a_receive_only_mailbox(page: Page, cloud: IdentityServer) -> None:
    go(page, "Workflows")
    page.get_by_label("Name", exact=True).fill("Leads")
    page.get_by_label("Steps, in order").fill("New, Qualify, Won")
    page.get_by_role("button", name="Add the workflow").click()
    page.get_by_label("Give Leads to").select_option(ANN)
    page.get_by_role("button", name="Give").click()

    go(page, "System mailboxes")
    page.get_by_label("Email address").fill(SALES)
    page.get_by_label("Workflow").select_option("Leads")
    page.get_by_role("button", name="Find settings").click()
    expect(page.locator("#found-incoming")).to_contain_text("your administrators' table")
    expect(page.get_by_label("Incoming server")).to_have_value("contoso-exchange")
    expect(page.get_by_label("Outgoing server")).to_have_value("contoso-exchange")
    page.get_by_label("OAuth app").select_option("contoso-exchange")
    page.get_by_role("button", name="Save the mailbox").click()
    expect(page.get_by_role("status")).to_contain_text("The mailbox was added")
    cloud.sign_in_as = SALES
    page.get_by_role("link", name=f"Sign in {SALES}").click()
    expect(page.get_by_role("status")).to_contain_text("signed in with its provider")

    # Receive emails on, Send emails off.
    page.get_by_role("link", name=f"Edit {SALES}").click()
    expect(page.get_by_label("Receive new mail")).to_be_checked()
    page.get_by_label("Send mail").uncheck()
    page.get_by_role("button", name="Save the mailbox").click()
    expect(page.get_by_role("status")).to_contain_text("The mailbox was saved")
    row = page.get_by_role("row").filter(has_text=SALES)
    expect(row).to_contain_text("send off")
    expect(row).not_to_contain_text("receive off")
    page.get_by_role("button", name=f"Test {SALES}").click()
    report = page.locator("td .report")
    expect(report).to_contain_text("Incoming")
    expect(report).to_contain_text("passed")
    expect(report).not_to_contain_text("Outgoing")  # sending is switched off


def _sync_now(page: Page) -> Locator:
    """The result of each kind, once the pass ran."""
    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_role("region", name="Sync result")).to_be_visible()
    return page.locator(".sync-result li")


def _ann_syncs_contacts_and_calendar_with_exchange(
    page: Page, cloud: IdentityServer, graph: GraphServer
) -> None:
    """Part A (issue 14): Ann's contacts and calendar in step with her Exchange account."""
    go(page, "Requests")
    page.get_by_role("link", name="100 seats?").click()
    request_url = page.url
    expect(page.locator(".requester-contact")).to_have_count(0)  # no address book knows them

    # Switched on from her profile; Exchange's contacts and calendar come through Graph, so
    # there is no DAV URL to give.
    go(page, "My profile")
    page.get_by_role("link", name=f"Contacts and calendar of {ANN}").click()
    expect(page.locator("#sync-contacts .badge")).to_have_text("off")
    expect(page.get_by_label("DAV URL")).to_have_count(0)
    page.get_by_label("Sync contacts").check()
    page.get_by_label("Sync calendar").check()
    page.get_by_role("button", name="Save the switches").click()
    expect(page.get_by_role("status")).to_contain_text("sync switches were saved")
    expect(page.locator("#sync-calendar .badge")).to_have_text("on")

    # She signed in for mail only: Exchange refuses her contacts, and the page says why.
    contacts_run, calendar_run = _sync_now(page).all()
    expect(contacts_run).to_contain_text("Contacts.ReadWrite")
    expect(contacts_run).to_contain_text("Reconnect the mailbox")
    expect(calendar_run).to_contain_text("Calendars.ReadWrite")
    # Signed in again, the sign-in asks for the contacts and calendar scopes too.
    go(page, "My profile")
    page.get_by_role("link", name=f"Sign in again to {ANN}").click()
    expect(page.get_by_text("signed in with its provider")).to_be_visible()
    *_, granted = [t.scope for t in cloud.tokens.values() if t.account == ANN]
    assert "Contacts.ReadWrite" in granted and "Calendars.ReadWrite" in granted

    # A contact added in the console is on the account after Sync now.
    page.get_by_role("link", name=f"Contacts and calendar of {ANN}").click()
    sync_url = page.url
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_label("Name").fill("Carl Consultant")
    page.get_by_label("Email").fill("carl@northwind.test")
    page.get_by_label("Company").fill("Northwind")
    page.get_by_role("button", name="Add the contact").click()
    expect(page.get_by_role("status")).to_contain_text("contact was added")
    expect(page.get_by_text("waiting for the next sync")).to_be_visible()
    page.goto(sync_url)
    contacts_run, calendar_run = _sync_now(page).all()
    expect(contacts_run).to_contain_text("pulled 0, pushed 1, conflicts 0")
    expect(calendar_run).to_contain_text("pulled 0, pushed 0, conflicts 0")
    expect(page.locator("#sync-contacts .last-success")).not_to_have_text("—")
    (carl,) = graph.all_items(ANN, "contacts")
    assert carl["displayName"] == "Carl Consultant" and carl["companyName"] == "Northwind"
    assert [e["address"] for e in carl["emailAddresses"]] == ["carl@northwind.test"]

    # A contact she made in Outlook comes back, and the lead's request now knows its buyer.
    graph.add_item(
        ANN,
        "contacts",
        {
            "displayName": "Bea Buyer",
            "emailAddresses": [{"address": "buyer@fabrikam.test", "name": "Bea Buyer"}],
            "companyName": "Fabrikam",
        },
    )
    contacts_run, _ = _sync_now(page).all()
    expect(contacts_run).to_contain_text("pulled 1, pushed 0")
    page.get_by_role("link", name="Contacts", exact=True).click()
    expect(page.get_by_role("link", name="Bea Buyer")).to_be_visible()
    expect(page.get_by_role("link", name="Carl Consultant")).to_be_visible()
    page.goto(request_url)
    expect(page.locator(".requester-contact")).to_have_text("Bea Buyer · Fabrikam")

    # A follow-up added from the request lands in her Exchange calendar, inviting the buyer.
    when = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    page.get_by_role("link", name="Activities: follow-ups and meetings").click()
    expect(page.get_by_label("Title")).to_have_value("Follow-up: 100 seats?")
    expect(page.get_by_label("Attendees")).to_have_value("buyer@fabrikam.test")
    page.get_by_label("Title").fill("Call Bea about the seats")
    page.get_by_label("Start (UTC)").fill(when.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("End (UTC)").fill((when + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Add the activity").click()
    expect(page.get_by_role("status")).to_contain_text("activity was added")
    page.goto(sync_url)
    _, calendar_run = _sync_now(page).all()
    expect(calendar_run).to_contain_text("pushed 1")
    (event,) = graph.all_items(ANN, "events")
    assert event["subject"] == "Call Bea about the seats"
    assert event["start"]["dateTime"].startswith(when.strftime("%Y-%m-%dT%H:%M"))
    assert [a["emailAddress"]["address"] for a in event["attendees"]] == ["buyer@fabrikam.test"]
    assert urlsplit(request_url).path in event["body"]["content"]  # the link back
    page.goto(request_url + "/activities")
    row = page.get_by_role("row", name=re.compile("Call Bea about the seats"))
    expect(row).to_contain_text("synced")


@pytest.mark.usefixtures("trust_test_ca")
def test_an_exchange_provider_serves_the_companys_mail(
    cloud: IdentityServer,
    graph: GraphServer,
    browser: Browser,
    live_url: str,
    worker: Worker,
    screenshot: Shoot,
) -> None:
    add_user("admin@contoso.test", "admin-pass-1", admin=True)
    add_user(ANN, "ann-pass-1")
    # The identity server's certificate comes from the test CA, which chromium does not know.
    context = browser.new_context(base_url=live_url, ignore_https_errors=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, "admin@contoso.test", "admin-pass-1")
        worker.sync_only_when_asked()
        _admin_sets_up_the_provider(page, graph)
        _admin_adds_a_receive_only_mailbox(page, cloud)
        screenshot(page, "seed-002-creatio")
        # Receiving: a lead to the sales mailbox opens a request at the workflow's next step.
        worker.wait_for_a_run(SALES)  # signed in, the worker's first look finds it empty
        graph.deliver(SALES, [email_from("buyer@fabrikam.test", "100 seats?", "Price please.")])
        assert fetch_now(page, SALES) == "1 fetched, 1 requests opened, 0 held, 0 failed."
        sign_out(page)

        # A user's new email account: the address alone finds the provider; then sign-in.
        sign_in(page, ANN, "ann-pass-1")
        go(page, "My profile")
        page.get_by_label("Email address").fill(ANN)
        page.get_by_role("button", name="Find settings").click()
        expect(page.locator("#found-incoming")).to_contain_text("your administrators' table")
        expect(page.get_by_label("Incoming server")).to_have_value("contoso-exchange")
        cloud.sign_in_as = ANN
        page.get_by_role("link", name=f"Sign in to add {ANN}").click()
        expect(page.get_by_text("signed in with its provider")).to_be_visible()
        row = page.get_by_role("row").filter(has_text=ANN)
        expect(row).to_contain_text("contoso-exchange / contoso-exchange")

        # Ann answers the lead from her own account, through Exchange.
        go(page, "Requests")
        page.get_by_role("link", name="100 seats?").click()
        expect(page.get_by_text("step Qualify")).to_be_visible()
        page.get_by_label("Send from").select_option(ANN)
        page.get_by_label("Message", exact=True).fill("Happy to help: 12 a seat.")
        page.get_by_role("button", name="Send reply").click()
        expect(page.get_by_role("status")).to_contain_text("Your reply is in the outbox")
        status = page.get_by_label(f"Message from {ANN}").locator(".delivery .badge")
        expect(status).to_have_text("sent", timeout=15_000)  # the worker sent it; the page asked
        assert [user for user, _, _ in graph.sent] == [ANN]
        assert b"12 a seat" in graph.sent[0][1]
        go(page, "Outbox")
        reply = page.get_by_role("row").filter(has_text="100 seats?")
        expect(reply.locator(".badge").first).to_have_text("sent")
        expect(reply).to_contain_text(ANN)
        expect(reply.locator("li", has_text="buyer@fabrikam.test")).to_contain_text("accepted")
        _ann_syncs_contacts_and_calendar_with_exchange(page, cloud, graph)
        sign_out(page)

        # To delete a mail server, delete its mailboxes first.
        sign_in(page, "admin@contoso.test", "admin-pass-1")
        go(page, "Mail settings")
        page.get_by_role("button", name="Remove server contoso-exchange").click()
        refusal = page.get_by_role("alert")
        expect(refusal).to_contain_text(SALES)
        expect(page.get_by_role("link", name="contoso-exchange")).to_be_visible()
    finally:
        context.close()
