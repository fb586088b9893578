"""Steps the seed stories share: signing in and out, the main menu, and Fetch now."""

from __future__ import annotations

import time

from playwright.sync_api import Locator, Page, expect


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


def slug(address: str) -> str:
    """How the console names a mailbox's row and report."""
    return address.replace("@", "-at-").replace(".", "-")


def fetch_now(page: Page, address: str) -> str:
    """Click the mailbox's *Fetch now* (System mailboxes or My profile, whichever page is open)
    and wait for the run's result on the page: the worker beside the console does the fetch.
    Returns the result as shown ("1 fetched, 1 requests opened, 0 held, 0 failed.")."""
    page.get_by_role("button", name=f"Fetch {address} now").click()
    run = page.locator(f"#report-{slug(address)} .fetch-run")
    expect(run).to_have_attribute("data-state", "done", timeout=30_000)
    return " ".join((run.text_content() or "").split()).removeprefix("fetched ")


def reload_until(page: Page, shown: Locator, text: str, timeout: float = 15.0) -> None:
    """For a page that does not ask by itself: reload it until `shown` says `text`, as a
    person presses F5, within a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            expect(shown).to_contain_text(text, timeout=1_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()
