"""Fixtures for the cloud providers: the local identity, Graph and Gmail servers, and a
postroom whose provider URLs point at them (the only difference from production)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

from postroom.config import get_settings
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import Protocol, Security
from postroom.sync.source import SyncSource
from tests.servers.certs import TestCA
from tests.servers.gmail import GmailServer
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer

CLIENT_ID, CLIENT_SECRET = "app-1", "app-secret-1"
GOOGLE_ID = "google-app-1"

Source = TypeVar("Source", bound=SyncSource)


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


@contextmanager
def sync_source(
    kind: Callable[[Endpoint, Credentials], Source],
    protocol: Protocol,
    server: GraphServer | GmailServer,
    token: str,
    user: str,
) -> Iterator[Source]:
    """A contacts or calendar source of the real sync code, reaching a local provider server
    over TLS with a token its identity server issued."""
    endpoint = Endpoint(protocol, server.http.host, server.http.port, Security.TLS)
    source = kind(endpoint, Credentials(user, token, bearer=True))
    try:
        yield source
    finally:
        source.close()
