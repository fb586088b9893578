"""Guessing passwords: attempts are counted atomically (30 at once: at most 5 are checked), and
X-Forwarded-For moves the count to another address only when a trusted proxy sent it."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from postroom.api.app import create_app
from postroom.config import get_settings
from postroom.services import auth
from tests.api.conftest import make_user
from tests.api.test_sign_in import form_token

RIGHT = {"email": "ann@example.test", "password": "password-1"}
WRONG = {"email": "ann@example.test", "password": "wrong-password"}


@pytest.mark.usefixtures("database_url")
def test_thirty_wrong_passwords_at_once_check_at_most_five(postroom_env: Path) -> None:
    make_user("ann@example.test")
    with TestClient(create_app(workers=False)) as browser:
        csrf = form_token(browser)
        with ThreadPoolExecutor(max_workers=30) as pool:
            answers = list(
                pool.map(
                    lambda _: browser.post("/sign-in", data=WRONG | {"csrf": csrf}).status_code,
                    range(30),
                )
            )
        assert answers.count(401) <= auth.MAX_FAILURES, answers
        assert set(answers) <= {401, 429} and answers.count(429) >= 30 - auth.MAX_FAILURES
        right = browser.post("/sign-in", data=RIGHT | {"csrf": csrf}, follow_redirects=False)
        assert right.status_code == 429  # the account is held back from this address


def _lock_out(browser: TestClient, csrf: str) -> None:
    for _ in range(auth.MAX_FAILURES):
        assert browser.post("/sign-in", data=WRONG | {"csrf": csrf}).status_code == 401


@pytest.fixture
def proxied(monkeypatch: pytest.MonkeyPatch, app: FastAPI) -> Iterator[FastAPI]:
    monkeypatch.setenv("POSTROOM_TRUSTED_PROXIES", "127.0.0.0/8")
    get_settings.cache_clear()
    yield app
    get_settings.cache_clear()


def test_a_forwarded_address_from_an_untrusted_peer_changes_nothing(app: FastAPI) -> None:
    make_user("ann@example.test")
    with TestClient(app, client=("127.0.0.1", 5000)) as browser:
        csrf = form_token(browser)
        _lock_out(browser, csrf)
        forwarded = browser.post(
            "/sign-in",
            data=RIGHT | {"csrf": csrf},
            headers={"X-Forwarded-For": "10.9.9.9"},
            follow_redirects=False,
        )
        assert forwarded.status_code == 429


def test_a_trusted_proxy_names_the_client(proxied: FastAPI) -> None:
    make_user("ann@example.test")
    with TestClient(proxied, client=("127.0.0.1", 5000)) as browser:
        csrf = form_token(browser)
        for _ in range(auth.MAX_FAILURES):
            wrong = browser.post(
                "/sign-in", data=WRONG | {"csrf": csrf}, headers={"X-Forwarded-For": "10.1.1.1"}
            )
            assert wrong.status_code == 401
        held = browser.post(
            "/sign-in", data=RIGHT | {"csrf": csrf}, headers={"X-Forwarded-For": "10.1.1.1"}
        )
        assert held.status_code == 429
        # a spoofed hop before the proxy's own entry is ignored: the proxy appended 10.1.1.1
        spoofed = browser.post(
            "/sign-in",
            data=RIGHT | {"csrf": csrf},
            headers={"X-Forwarded-For": "10.9.9.9, 10.1.1.1"},
        )
        assert spoofed.status_code == 429
        other = browser.post(
            "/sign-in",
            data=RIGHT | {"csrf": csrf},
            headers={"X-Forwarded-For": "10.2.2.2"},
            follow_redirects=False,
        )
        assert other.status_code == 303
