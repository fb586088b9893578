"""An app per test on a fresh database, and users who call it with their own API tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from postroom.api.app import create_app
from postroom.services import api_tokens, users
from postroom.services.actors import OPERATOR
from postroom.storage.db import unit_of_work
from tests.discovery.loopback import ctx, dns_server, loopback_env, loopback_only, web

__all__ = ["ctx", "dns_server", "loopback_env", "loopback_only", "web"]

PROBLEM = "application/problem+json"


class Api:
    """One user's view of the REST API: every call carries their bearer token. The client is
    the in-process TestClient, or an httpx.Client on a real server."""

    def __init__(self, client: httpx.Client, email: str, token: str) -> None:
        self.client, self.email, self.token = client, email, token

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.client.request(method, "/api/v1" + path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, **kwargs)


def make_user(email: str, *, admin: bool = False, password: str = "password-1") -> str:
    """The user, with an API token of their own; the token is returned."""
    with unit_of_work() as db:
        user = users.add(db, OPERATOR, email, password, admin=admin)
        _, token = api_tokens.create(db, users.actor_for(user), "tests")
    return token


@pytest.fixture
def app(postroom_env: Path) -> FastAPI:
    return create_app(workers=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin(client: TestClient) -> Api:
    return Api(client, "admin@example.test", make_user("admin@example.test", admin=True))


@pytest.fixture
def ann(client: TestClient) -> Api:
    return Api(client, "ann@example.test", make_user("ann@example.test"))


@pytest.fixture
def bob(client: TestClient) -> Api:
    return Api(client, "bob@example.test", make_user("bob@example.test"))
