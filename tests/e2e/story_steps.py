"""Steps the seed stories share: signing in and out, the main menu, and fetching as the
workers would."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from postroom.services import fetching
from postroom.storage.db import default_engine


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".who")).to_contain_text(email)


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def go(page: Page, item: str) -> None:
    """Click an item of the main menu (other links on a page may share its words)."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=item, exact=True).click()


def fetch(address: str) -> None:
    """What the workers do on their schedule (they are off in console tests).
    after merge: the mailbox's *Fetch now* button does this in the console."""
    runs = fetching.fetch_once(default_engine(), address)
    assert [run.error for run in runs] == [None]
