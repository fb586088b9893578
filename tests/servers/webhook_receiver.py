"""A webhook receiver on loopback: records every POST and answers from a script (a status,
or "hang" until released: a receiver slower than postroom's read timeout)."""

from __future__ import annotations

import threading
from collections import deque
from typing import Self

from tests.servers.http import HttpServer, Request, Response

HANG = -1


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[Request] = []
        self.script: deque[int] = deque()  # statuses to answer, in order; then 200
        self.release = threading.Event()  # lets hanging answers go
        self.arrived = threading.Condition()
        self._http = HttpServer([("POST", r"/hooks/(?P<name>[^/]+)", self._receive)])

    @property
    def url(self) -> str:
        return f"{self._http.base_url}/hooks/postroom"

    def answer(self, *statuses: int) -> None:
        self.script.extend(statuses)

    def _receive(self, request: Request) -> Response:
        with self.arrived:
            self.received.append(request)
            self.arrived.notify_all()
        status = self.script.popleft() if self.script else 200
        if status == HANG:
            self.release.wait(timeout=60)
            status = 200
        return Response(status, b"ok")

    def __enter__(self) -> Self:
        self._http.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self._http.stop()
