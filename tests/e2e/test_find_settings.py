"""Find settings in chromium: discovery runs against the local DNS and HTTPS servers and fills
the add-server form, and picks the matching server in a user's add-mailbox form; the password
typed there goes nowhere."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from postroom.services import servers
from postroom.services.actors import OPERATOR
from postroom.services.servers import ServerSpec
from postroom.storage.db import unit_of_work
from tests.discovery.samples import config_xml, imap, smtp
from tests.e2e.test_console import add_user, sign_in
from tests.servers.web import Reply, WebServer

pytestmark = pytest.mark.usefixtures("loopback_env", "loopback_only")


def publish_settings(web: WebServer) -> None:
    web.routes["/ispdb/v1.1/example.test"] = Reply(
        config_xml("example.test", imap("imap.example.test"), smtp("smtp.example.test"))
    )


def test_find_settings_fills_the_add_server_form(page: Page, web: WebServer) -> None:
    publish_settings(web)
    add_user("admin@example.test", "admin-pass-1", admin=True)
    sign_in(page, "admin@example.test", "admin-pass-1")
    page.goto("/settings/servers/new")
    page.get_by_label("An email address on this server").fill("desk@example.test")
    page.get_by_role("button", name="Find settings").click()
    fields = page.locator("#server-fields")
    expect(fields).to_contain_text("found by: Thunderbird's ISPDB")
    expect(page.get_by_label("Host")).to_have_value("imap.example.test")
    expect(page.get_by_label("Port")).to_have_value("993")
    expect(page.get_by_label("Security")).to_have_value("tls")
    expect(page.get_by_label("Protocol")).to_have_value("imap")


def test_find_settings_picks_the_server_a_users_mailbox_needs(page: Page, web: WebServer) -> None:
    publish_settings(web)
    with unit_of_work() as db:
        servers.add(
            db,
            OPERATOR,
            ServerSpec(name="corp-imap", protocol="imap", host="imap.example.test", port=993),
        )
    add_user("ann@example.test", "ann-pass-1")
    sign_in(page, "ann@example.test", "ann-pass-1")
    page.goto("/profile/mailboxes")
    page.get_by_label("Email address").fill("ann@example.test")
    page.get_by_label("Password").fill("never-sent-anywhere")
    page.get_by_role("button", name="Find settings").click()
    expect(page.locator("#found-incoming")).to_contain_text("found by: Thunderbird's ISPDB")
    expect(page.get_by_label("Incoming server")).to_have_value("corp-imap")
    expect(page.locator("#found-outgoing")).to_contain_text(
        "smtp smtp.example.test:465 (tls): found by: Thunderbird's ISPDB"
    )
    expect(page.locator("#found-outgoing")).to_contain_text("ask an administrator to add it")
    expect(page.get_by_label("Password")).to_have_value("never-sent-anywhere")
    assert web.requests and all("never-sent" not in r.target for r in web.requests)
