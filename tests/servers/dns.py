"""A DNS server on 127.0.0.1 (dnslib) answering from a zone given as text, so discovery tests
never ask the machine's resolver. Names can be held to make an answer late."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from dnslib import QTYPE, RCODE, RR, DNSLabel
from dnslib.server import DNSLogger, DNSServer

__all__ = ["DnsServer"]


class DnsServer:
    def __init__(self, zone: str = "") -> None:
        self._records: list[Any] = []
        self._holds: dict[DNSLabel, threading.Event] = {}
        self._lock = threading.Lock()
        self.queries: list[tuple[str, str]] = []
        self._server: DNSServer | None = None
        if zone:
            self.add(zone)

    def add(self, zone: str) -> None:
        """Records in zone-file syntax, one a line, with absolute names."""
        with self._lock:
            self._records += RR.fromZone(zone)

    def hold(self, name: str) -> threading.Event:
        """Answers for `name` wait until the returned event is set (or the server stops)."""
        event = threading.Event()
        self._holds[DNSLabel(name)] = event
        return event

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "start the server first"
        host, port = self._server.server.server_address[:2]
        return str(host), int(port)

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        qname, qtype = request.q.qname, QTYPE[request.q.qtype]
        self.queries.append((str(qname).rstrip("."), qtype))
        hold = self._holds.get(qname)
        if hold is not None:
            hold.wait(timeout=30)
        with self._lock:
            named = [r for r in self._records if r.rname == qname]
        if not named:
            reply.header.rcode = RCODE.NXDOMAIN
        for record in named:
            if QTYPE[record.rtype] == qtype:
                reply.add_answer(record)
        return reply

    def __enter__(self) -> DnsServer:
        self._server = DNSServer(
            self, address="127.0.0.1", port=0, logger=DNSLogger(logf=lambda _line: None)
        )
        # Our own thread rather than start_thread(): a short poll makes stopping quick.
        serve = self._server.server.serve_forever
        threading.Thread(target=serve, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for event in self._holds.values():
            event.set()
        if self._server is not None:
            self._server.server.shutdown()
            self._server.server.server_close()
