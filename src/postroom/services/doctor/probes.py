"""The servers in use, probed in parallel with a short timeout each, so the doctor takes
seconds however many servers there are, and one dead server delays nobody."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from postroom.connectors.tls_probe import TlsProbe, probe
from postroom.domain.endpoints import Endpoint
from postroom.domain.settings import Protocol, Security
from postroom.services.doctor.model import ServerView

TIMEOUT = 5.0
PARALLEL = 8


def _endpoint(server: ServerView) -> Endpoint:
    return Endpoint(Protocol(server.protocol), server.host, server.port, Security(server.security))


def probe_all(servers: list[ServerView], timeout: float = TIMEOUT) -> dict[int, TlsProbe]:
    tcp = [s for s in servers if Protocol(s.protocol).speaks_tcp and s.security != "none"]
    if not tcp:
        return {}
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(tcp))) as pool:
        results = pool.map(lambda s: probe(_endpoint(s), timeout), tcp)
        return {server.id: result for server, result in zip(tcp, results, strict=True)}
