"""An HTTPS server on 127.0.0.1 with the test CA's certificate, serving fixed answers by path:
the stand-in for autoconfig hosts, the ISPDB and Autodiscover. It records every request so a
test can prove what was (and was not) asked."""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.servers.certs import TestCA
from tests.servers.loopback import ThreadedLoopbackServer

__all__ = ["Reply", "WebServer"]


@dataclass
class Reply:
    body: bytes
    status: int = 200
    content_type: str = "application/xml"
    hold: threading.Event | None = None  # answer only once this is set


@dataclass(frozen=True)
class Seen:
    target: str  # path and query, as sent
    headers: dict[str, str]


class WebServer(ThreadedLoopbackServer):
    poll_interval = 0.02

    def __init__(self, ca: TestCA) -> None:
        self.routes: dict[str, Reply] = {}
        self.requests: list[Seen] = []
        self._context = ca.server_ssl_context()

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def _bind(self) -> ThreadingHTTPServer:
        web = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                web.requests.append(Seen(self.path, dict(self.headers.items())))
                reply = web.routes.get(urlsplit(self.path).path, Reply(b"not found", 404))
                if reply.hold is not None:
                    reply.hold.wait(timeout=30)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (ConnectionError, ssl.SSLError):
                    pass  # the client gave up waiting: that is what a slow-answer test wants

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer((self.host, 0), Handler)
        server.daemon_threads = True
        server.socket = self._context.wrap_socket(server.socket, server_side=True)
        return server

    def _release(self) -> None:
        for reply in self.routes.values():
            if reply.hold is not None:
                reply.hold.set()
