"""Contacts and activities in chromium against a real CardDAV/CalDAV server (Radicale): an
administrator switches sync on for a system mailbox, a contact added in the console reaches
the server, a change made there comes back after Sync now, an edit made on both sides keeps
the losing version in the contact's history, and an activity added from a request lands in
the calendar with its attendee and the link back; an owner reaches only their own mailbox."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from postroom.services import sync_runs
from postroom.storage import process_locks
from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox, Request, Workflow
from tests.conftest import Cli
from tests.e2e.conftest import Shoot
from tests.e2e.test_console import add_user, sign_in
from tests.integration.mailhelpers import add_server, cli_json
from tests.servers.radicale import Radicale, radicale_server

USERS = {"ann": "ann-pass-1", "bob": "bob-pass-1"}
VCARD = "text/vcard; charset=utf-8"


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[Radicale]:
    with radicale_server(tmp_path / "radicale", USERS) as server:
        yield server


def _mailbox(cli: Cli, user: str, *owner: str) -> str:
    """An IMAP mailbox whose account (user name: the local part) is Radicale's; its IMAP
    server is never reached here."""
    if cli("server", "show", "in").code != 0:
        add_server(cli, "in", "imap", 1, "none", "--login-format", "local-part")
    address = f"{user}@example.org"
    added = cli(
        "mailbox", "add", address, "--incoming", "in", *owner, "--password-stdin",
        input=USERS[user] + "\n",
    )  # fmt: skip
    assert added.code == 0, added.stderr
    return address


def _request(engine: Engine, requester: str) -> int:
    with unit_of_work(engine) as db:
        workflow = Workflow(name="Sales")
        db.add(workflow)
        db.flush()
        request = Request(workflow_id=workflow.id, subject="Ten chairs", requester=requester)
        db.add(request)
        db.flush()
        return request.id


def _server_cards(radicale: Radicale, user: str) -> list[str]:
    return [radicale.body(user, h) for h in radicale.hrefs(radicale.addressbook(user), user)]


def _sync_now(page: Page) -> None:
    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_role("region", name="Sync result")).to_be_visible()


def test_an_admin_syncs_contacts_and_activities_of_a_system_mailbox_with_radicale(
    page: Page, cli: Cli, engine: Engine, radicale: Radicale, screenshot: Shoot
) -> None:
    desk = _mailbox(cli, "ann")
    request_id = _request(engine, "carol@client.example")
    add_user("admin@example.test", "admin-pass-1", admin=True)
    sign_in(page, "admin@example.test", "admin-pass-1")

    # Switch sync on, with the account's DAV home.
    page.get_by_role("link", name="System mailboxes").click()
    page.get_by_role("link", name=f"Contacts and calendar of {desk}").click()
    expect(page.locator("#sync-contacts .badge")).to_have_text("off")
    page.get_by_label("Sync contacts").check()
    page.get_by_label("Sync calendar").check()
    page.get_by_label("DAV URL").fill("ftp://nowhere.example/")
    page.get_by_role("button", name="Save the switches").click()
    expect(page.locator(".error")).to_contain_text("http")
    expect(page.get_by_label("Sync contacts")).to_be_checked()
    page.get_by_label("DAV URL").fill(radicale.home("ann"))
    page.get_by_role("button", name="Save the switches").click()
    expect(page.get_by_role("status")).to_contain_text("sync switches were saved")
    expect(page.locator("#sync-contacts .badge")).to_have_text("on")

    # A contact added in the console reaches the server.
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_label("Name").fill("Carol Client")
    page.get_by_label("Email").fill("carol@client.example")
    page.get_by_label("Company").fill("Client Ltd")
    page.get_by_role("button", name="Add the contact").click()
    expect(page.get_by_role("status")).to_contain_text("contact was added")
    expect(page.get_by_text("waiting for the next sync")).to_be_visible()
    page.goto(f"/mailboxes/{desk}/sync")
    _sync_now(page)
    expect(page.get_by_role("region", name="Sync result")).to_contain_text("pushed 1")
    expect(page.locator("#sync-contacts .last-success")).not_to_have_text("—")
    (card,) = _server_cards(radicale, "ann")
    assert "EMAIL" in card and "carol@client.example" in card and "Client Ltd" in card

    # Changed on the server: back after Sync now, and found by a search.
    (href,) = radicale.hrefs(radicale.addressbook("ann"), "ann")
    radicale.put("ann", href, card.replace("Carol Client", "Carol Clyde"), VCARD)
    _sync_now(page)
    expect(page.get_by_role("region", name="Sync result")).to_contain_text("pulled 1")
    page.goto(f"/mailboxes/{desk}/contacts")
    page.get_by_label("Search").fill("clyde")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Carol Clyde")).to_be_visible()
    page.get_by_label("Search").fill("nobody")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No contacts match")).to_be_visible()

    # Edited on both sides: the server's version wins, ours is shown in the history.
    page.goto(f"/mailboxes/{desk}/contacts")
    page.get_by_role("link", name="Carol Clyde").click()
    contact_url = page.url
    expect(page.get_by_text("No conflicts")).to_be_visible()
    page.get_by_label("Name").fill("Carol from the console")
    page.get_by_role("button", name="Save the contact").click()
    expect(page.get_by_role("status")).to_contain_text("contact was saved")
    card = radicale.body("ann", href)
    radicale.put("ann", href, card.replace("Carol Clyde", "Carol from the phone"), VCARD)
    page.goto(f"/mailboxes/{desk}/sync")
    _sync_now(page)
    expect(page.get_by_role("region", name="Sync result")).to_contain_text("conflicts 1")
    page.goto(contact_url)
    expect(page.get_by_label("Name")).to_have_value("Carol from the phone")
    losing = page.locator(".history-entry")
    expect(losing).to_have_count(1)
    expect(losing).to_contain_text("changed on both sides")
    expect(losing).to_contain_text("Carol from the console")
    screenshot(page, "contact-history")

    # An activity added from the request lands in the calendar, inviting the requester.
    page.goto(f"/requests/{request_id}")
    page.get_by_role("link", name="Activities: follow-ups and meetings").click()
    expect(page.get_by_label("Title")).to_have_value("Follow-up: Ten chairs")
    expect(page.get_by_label("Attendees")).to_have_value("carol@client.example")
    page.get_by_label("Title").fill("Call Carol about the chairs")
    page.get_by_label("Start (UTC)").fill("2026-12-03T09:00")
    page.get_by_label("End (UTC)").fill("2026-12-03T09:30")
    page.get_by_role("button", name="Add the activity").click()
    expect(page.get_by_role("status")).to_contain_text("activity was added")
    expect(page.get_by_text(f"request #{request_id}")).to_be_visible()
    page.goto(f"/mailboxes/{desk}/sync")
    _sync_now(page)
    expect(page.locator("#sync-calendar .last-success")).not_to_have_text("—")
    screenshot(page, "sync-state")
    (event,) = [radicale.body("ann", h) for h in radicale.hrefs(radicale.calendar("ann"), "ann")]
    unfolded = event.replace("\r\n ", "")
    assert "SUMMARY:Call Carol about the chairs" in unfolded
    assert "DTSTART:20261203T090000Z" in unfolded
    assert "carol@client.example" in unfolded
    assert f"/requests/{request_id}" in unfolded
    page.goto(f"/requests/{request_id}/activities")
    row = page.get_by_role("row", name=re.compile("Call Carol about the chairs"))
    expect(row).to_contain_text("synced")

    # Moved in the console: the calendar follows after Sync now.
    row.get_by_role("link", name="Call Carol about the chairs").click()
    expect(page.get_by_label("Start (UTC)")).to_have_value("2026-12-03T09:00")
    page.get_by_label("Start (UTC)").fill("2026-12-04T10:00")
    page.get_by_label("End (UTC)").fill("2026-12-04T10:30")
    page.get_by_role("button", name="Save the activity").click()
    expect(page.get_by_role("status")).to_contain_text("activity was saved")
    expect(page.get_by_text("waiting for the next sync")).to_be_visible()
    page.goto(f"/mailboxes/{desk}/sync")
    _sync_now(page)
    (moved,) = [radicale.body("ann", h) for h in radicale.hrefs(radicale.calendar("ann"), "ann")]
    assert "DTSTART:20261204T100000Z" in moved and "Call Carol about the chairs" in moved


def test_an_owner_syncs_only_their_own_mailbox(page: Page, cli: Cli, radicale: Radicale) -> None:
    add_user("bob@example.test", "bob-pass-1")
    add_user("eve@example.test", "eve-pass-1")
    bobs = _mailbox(cli, "bob", "--owner", "bob@example.test")
    sign_in(page, "eve@example.test", "eve-pass-1")
    for path in (f"/mailboxes/{bobs}/sync", f"/mailboxes/{bobs}/contacts"):
        assert page.goto(path).status == 404  # type: ignore[union-attr]

    page.context.clear_cookies()
    page.goto("/sign-in")
    page.get_by_label("Email address").fill("bob@example.test")
    page.get_by_label("Password").fill("bob-pass-1")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="My profile").click()
    page.get_by_role("link", name=f"Contacts and calendar of {bobs}").click()
    page.get_by_label("Sync contacts").check()
    page.get_by_label("DAV URL").fill(radicale.home("bob"))
    page.get_by_role("button", name="Save the switches").click()
    expect(page.get_by_role("status")).to_contain_text("sync switches were saved")
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_label("Name").fill("Dave Supplier")
    page.get_by_label("Email").fill("dave@supplier.example")
    page.get_by_role("button", name="Add the contact").click()
    page.goto(f"/mailboxes/{bobs}/sync")
    _sync_now(page)
    expect(page.get_by_role("region", name="Sync result")).to_contain_text("pushed 1")
    expect(page.locator("#sync-calendar .badge")).to_have_text("off")
    (card,) = _server_cards(radicale, "bob")
    assert "dave@supplier.example" in card

    # Removed in the console: gone from the list at once, from the server after Sync now.
    page.goto(f"/mailboxes/{bobs}/contacts")
    page.get_by_role("link", name="Dave Supplier").click()
    page.get_by_role("button", name="Remove the contact").click()
    expect(page.get_by_role("status")).to_contain_text("contact was removed")
    expect(page.get_by_text("No contacts.")).to_be_visible()
    page.goto(f"/mailboxes/{bobs}/sync")
    _sync_now(page)
    expect(page.get_by_role("region", name="Sync result")).to_contain_text("deleted 1")
    assert _server_cards(radicale, "bob") == []


def test_sync_now_says_so_when_another_process_is_syncing_the_mailbox(
    page: Page, cli: Cli, engine: Engine, radicale: Radicale
) -> None:
    desk = _mailbox(cli, "ann")
    code, _ = cli_json(
        cli,
        "mailbox",
        "edit",
        desk,
        "--sync",
        "contacts,calendar",
        "--dav-url",
        radicale.home("ann"),
    )
    assert code == 0
    added = cli("contact", "add", "--mailbox", desk, "--email", "kim@x.example", "--name", "Kim")
    assert added.code == 0
    with unit_of_work(engine) as db:
        mailbox_id = db.scalars(select(Mailbox.id).where(Mailbox.address == desk)).one()
    add_user("admin@example.test", "admin-pass-1", admin=True)
    sign_in(page, "admin@example.test", "admin-pass-1")
    page.goto(f"/mailboxes/{desk}/sync")
    results = page.locator(".sync-result li")

    # Another process's pass of the contacts holds their lock: Sync now leaves them to it.
    with process_locks.held(engine, sync_runs.pass_lock(mailbox_id, "contacts")) as mine:
        assert mine
        _sync_now(page)
        expect(results.first).to_have_text("Contacts: skipped, being synced by another process")
        expect(results.last).to_contain_text("Calendar: pulled 0, pushed 0")
        assert _server_cards(radicale, "ann") == []

    _sync_now(page)
    expect(results.first).to_contain_text("Contacts: pulled 0, pushed 1")
    (card,) = _server_cards(radicale, "ann")
    assert "kim@x.example" in card
