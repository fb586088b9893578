"""Administering users in chromium: a disabled user really cannot sign in (their session ends,
their API token is refused) until enabled; a one-time password makes them choose their own at
sign-in; roles keep one administrator; workflows are given; a removed user's mailboxes go to
the user chosen. The CLI and the API see each change."""

from __future__ import annotations

import json
import re

import httpx
from playwright.sync_api import Browser, Page, expect

from postroom.services import api_tokens, mailboxes, servers, users, workflows
from postroom.services.actors import OPERATOR
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec
from postroom.storage.db import unit_of_work
from tests.conftest import Cli
from tests.e2e.conftest import Shoot
from tests.e2e.test_console import add_user


def ann_with_a_mailbox_and_a_token() -> str:
    add_user("ann@example.test", "ann-pass-1")
    with unit_of_work() as db:
        servers.add(
            db, OPERATOR, ServerSpec(name="out", protocol="smtp", host="127.0.0.1", port=2525)
        )
        workflows.add(db, OPERATOR, "Support", "New, Triage, Done")
        mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec(
                address="ann@example.test",
                owner="ann@example.test",
                outgoing="out",
                password="pw-1",
            ),
        )
        ann = users.get(db, "ann@example.test")
        _, token = api_tokens.create(db, users.actor_for(ann), "crm")
    return token


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("banner").get_by_text(email)).to_be_visible()


def me(live_url: str, token: str) -> int:
    answer = httpx.get(f"{live_url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code


def shown(cli: Cli, email: str) -> dict[str, object]:
    result = cli("user", "show", email, "--json")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_an_admin_disables_resets_and_removes_a_user_and_each_takes_effect(
    page: Page, browser: Browser, live_url: str, cli: Cli, screenshot: Shoot
) -> None:
    add_user("admin@example.test", "admin-pass-1", admin=True)
    add_user("bob@example.test", "bob-pass-1")
    token = ann_with_a_mailbox_and_a_token()
    assert me(live_url, token) == 200

    # Ann is signed in elsewhere while the administrator disables her.
    ann_context = browser.new_context(base_url=live_url)
    ann_page = ann_context.new_page()
    sign_in(ann_page, "ann@example.test", "ann-pass-1")

    sign_in(page, "admin@example.test", "admin-pass-1")
    page.get_by_role("link", name="Users").click()
    page.get_by_role("link", name="Edit user ann@example.test").click()
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status")).to_contain_text("The user was disabled")
    expect(page.locator("h1 + p .badge")).to_have_text("disabled")
    assert shown(cli, "ann@example.test")["disabled"] is True
    page.get_by_role("link", name="All users").click()
    ann_row = page.get_by_role("row").filter(has_text="ann@example.test")
    expect(ann_row.locator(".badge")).to_have_text("disabled")
    screenshot(page, "users")
    page.get_by_role("link", name="Edit user ann@example.test").click()

    ann_page.get_by_role("link", name="Requests").click()  # her session has ended
    expect(ann_page).to_have_url(re.compile(r"/sign-in"))
    ann_page.get_by_label("Email address").fill("ann@example.test")
    ann_page.get_by_label("Password").fill("ann-pass-1")
    ann_page.get_by_role("button", name="Sign in").click()
    expect(ann_page.get_by_role("alert")).to_contain_text("disabled")
    assert me(live_url, token) == 401

    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("status")).to_contain_text("The user was enabled")
    assert me(live_url, token) == 200

    # A one-time password: shown once; at sign-in Ann must choose her own before anything else.
    page.get_by_role("button", name="Issue a one-time password").click()
    one_time = page.locator("#one-time-password").inner_text().strip()
    assert len(one_time) >= 12
    ann_page.goto("/sign-in")
    ann_page.get_by_label("Email address").fill("ann@example.test")
    ann_page.get_by_label("Password").fill(one_time)
    ann_page.get_by_role("button", name="Sign in").click()
    expect(ann_page).to_have_url(re.compile(r"/password"))
    ann_page.goto("/requests")
    expect(ann_page).to_have_url(re.compile(r"/password\?next=/requests"))
    ann_page.get_by_label("Current password").fill(one_time)
    ann_page.get_by_label("New password", exact=True).fill("ann-own-pass-2")
    ann_page.get_by_label("New password again").fill("ann-own-pass-2")
    ann_page.get_by_role("button", name="Change the password").click()
    expect(ann_page.get_by_role("status")).to_contain_text("Your password was changed")
    expect(ann_page.get_by_role("heading", name="Requests")).to_be_visible()
    ann_context.close()

    # Workflows, and a role change that would leave no administrator is refused.
    page.get_by_label("Support").check()
    page.get_by_role("button", name="Save the workflows").click()
    expect(page.get_by_role("status")).to_contain_text("The workflows were saved")
    assert shown(cli, "ann@example.test")["workflows"] == ["Support"]
    page.goto("/users/admin@example.test")
    page.get_by_label("Role").select_option("user")
    page.get_by_role("button", name="Save the role").click()
    expect(page.get_by_role("alert")).to_contain_text("last administrator")
    assert shown(cli, "admin@example.test")["admin"] is True
    page.get_by_label("Reason").fill("testing")
    page.get_by_role("button", name="Remove admin@example.test").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot remove yourself")

    # Ann leaves: her mailbox goes to Bob, the reason to the audit log.
    page.goto("/users/ann@example.test")
    page.get_by_label("Their personal mailboxes").select_option("hand-over")
    page.get_by_label("Hand them to").select_option("bob@example.test")
    page.get_by_label("Reason").fill("Ann left the company")
    screenshot(page, "user-edit")
    page.get_by_role("button", name="Remove ann@example.test").click()
    expect(page.get_by_role("status")).to_contain_text("The user was removed")
    expect(page.get_by_role("link", name="Edit user ann@example.test")).to_have_count(0)
    assert shown(cli, "bob@example.test")["mailboxes"] == ["ann@example.test"]
    assert cli("user", "show", "ann@example.test").code != 0
    assert me(live_url, token) == 401
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("cell", name="Ann left the company")).to_be_visible()
