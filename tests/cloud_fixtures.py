"""Fixtures for the cloud providers: the local identity, Graph and Gmail servers, and a
postroom whose provider URLs point at them (the only difference from production)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from postroom.config import get_settings
from tests.servers.certs import TestCA
from tests.servers.gmail import GmailServer
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer

CLIENT_ID, CLIENT_SECRET = "app-1", "app-secret-1"
GOOGLE_ID = "google-app-1"


@pytest.fixture
def identity(test_ca: TestCA) -> Iterator[IdentityServer]:
    with IdentityServer(test_ca) as server:
        server.register(CLIENT_ID, CLIENT_SECRET)
        server.register(GOOGLE_ID, CLIENT_SECRET)
        yield server


@pytest.fixture
def graph(identity: IdentityServer, test_ca: TestCA) -> Iterator[GraphServer]:
    with GraphServer(identity, test_ca) as server:
        yield server


@pytest.fixture
def gmail(identity: IdentityServer, test_ca: TestCA) -> Iterator[GmailServer]:
    with GmailServer(identity, test_ca) as server:
        yield server


@pytest.fixture
def cloud(
    identity: IdentityServer,
    trust_test_ca: None,
    monkeypatch: pytest.MonkeyPatch,
    postroom_env: Path,
) -> IdentityServer:
    """postroom with its provider URLs on loopback."""
    monkeypatch.setenv("POSTROOM_MICROSOFT_LOGIN_URL", identity.base_url)
    monkeypatch.setenv("POSTROOM_GOOGLE_ACCOUNTS_URL", identity.base_url)
    monkeypatch.setenv("POSTROOM_GOOGLE_OAUTH2_URL", identity.base_url)
    get_settings.cache_clear()
    return identity
