"""Steps the seed stories share: the main menu, and fetching as the workers would."""

from __future__ import annotations

from playwright.sync_api import Page

from postroom.services import fetching
from postroom.storage.db import default_engine


def go(page: Page, item: str) -> None:
    """Click an item of the main menu (other links on a page may share its words)."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=item, exact=True).click()


def fetch(address: str) -> None:
    """What the workers do on their schedule (they are off in console tests).
    after merge: the mailbox's *Fetch now* button does this in the console."""
    runs = fetching.fetch_once(default_engine(), address)
    assert [run.error for run in runs] == [None]
