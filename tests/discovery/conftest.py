"""Discovery tests talk only to servers on 127.0.0.1 (see loopback.py): the guard is on for
every one of them."""

from __future__ import annotations

import pytest

from tests.discovery.loopback import Guard, ctx, dns_server, loopback_env, loopback_only, web

__all__ = ["ctx", "dns_server", "loopback_env", "loopback_only", "web"]


@pytest.fixture(autouse=True)
def guarded(loopback_only: Guard) -> Guard:
    return loopback_only
