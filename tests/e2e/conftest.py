"""The console in a real browser: postroom served by uvicorn on a loopback port in a thread,
and Debian's chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from postroom.api.app import create_app
from tests.discovery.loopback import ctx, dns_server, loopback_env, loopback_only, web
from tests.e2e.worker import Worker
from tests.servers.ports import free_port

__all__ = ["ctx", "dns_server", "loopback_env", "loopback_only", "web"]

CHROMIUM_PATHS = (Path("/usr/lib/chromium/chromium"), Path("/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def chromium_path() -> str:
    for path in CHROMIUM_PATHS:
        if path.exists():
            return str(path)
    raise RuntimeError("Debian's chromium is missing: `make test` installs it (apt chromium).")


@pytest.fixture
def live_url(postroom_env: Path) -> Iterator[str]:
    """postroom serving on a free loopback port; workers off, so fetching runs only when a test
    asks for it and nothing races the assertions."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(workers=False), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        thread.join(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def worker(live_url: str) -> Iterator[Worker]:
    """A worker beside the console (tests/e2e/worker.py): Fetch now and the outbox work as
    they do for people, with no test fetching or sending itself."""
    started = Worker()
    started.scheduler.start()
    yield started
    started.scheduler.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, live_url: str) -> Iterator[Page]:
    """Every console test also proves the pages work under the Content-Security-Policy: the
    browser reports each thing the policy refused, and there must be none."""
    context = browser.new_context(base_url=live_url, viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    refused: list[str] = []
    opened.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    yield opened
    context.close()
    assert refused == []


Shoot = Callable[[Page, str], None]


@pytest.fixture
def screenshot(tmp_path: Path) -> Shoot:
    """Pictures of the main screens; into docs/screenshots (the README shows them) when
    POSTROOM_SCREENSHOTS=1, so an ordinary test run leaves the work tree unchanged."""
    folder = SCREENSHOTS if os.environ.get("POSTROOM_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page: Page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return shoot
