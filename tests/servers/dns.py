"""A DNS server on 127.0.0.1 (dnslib) answering from a zone given as text, so discovery tests
never ask the machine's resolver. Names can be held to make an answer late."""

from __future__ import annotations

import socketserver
import threading
from typing import Any

from dnslib import QTYPE, RCODE, RR, DNSLabel
from dnslib.server import DNSLogger, DNSServer

from .loopback import ThreadedLoopbackServer

__all__ = ["DnsServer"]


class DnsServer(ThreadedLoopbackServer):
    poll_interval = 0.02

    def __init__(self, zone: str = "") -> None:
        self._records: list[Any] = []
        self._holds: dict[DNSLabel, threading.Event] = {}
        self._lock = threading.Lock()
        self.queries: list[tuple[str, str]] = []
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
        return self.host, self.port

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

    def _bind(self) -> socketserver.BaseServer:
        # Served from the base's thread rather than start_thread(): a short poll stops quickly.
        dns = DNSServer(self, address=self.host, port=0, logger=DNSLogger(logf=lambda _line: None))
        server: socketserver.BaseServer = dns.server
        return server

    def _release(self) -> None:
        for event in self._holds.values():
            event.set()
