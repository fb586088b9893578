"""Schemathesis walks every operation of /api/openapi.json with generated input, as an
administrator: whatever it sends, the answer is never a 5xx. The number of examples is bounded
so the suite stays quick; operations that talk to mail servers are left out, because generated
host names would send DNS queries off this machine. Discovery is walked too, pointed at local
DNS and HTTPS servers, with the loopback guard on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.openapi import from_asgi

from postroom.api.app import create_app
from postroom.discovery.context import DiscoveryContext
from tests.api.conftest import make_user
from tests.discovery.loopback import Guard

NETWORK = r"/(test|test-email|reconnect)$"


# Building the schema needs no database: the app reaches one only when a request comes, and by
# then each test's postroom_env has set one up.
schema = from_asgi("/api/openapi.json", create_app(workers=False)).exclude(path_regex=NETWORK)


@pytest.fixture
def token(postroom_env: Path, loopback_env: DiscoveryContext, loopback_only: Guard) -> str:
    return make_user("fuzz@example.test", admin=True)


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_gets_a_server_error(case: Case[Any], token: str) -> None:
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
    if response.status_code >= 400 and case.formatted_path.startswith("/api/"):
        assert response.headers["content-type"] == ["application/problem+json"]
