"""Counts each HTTP request by its route template (/api/v1/mailboxes/{mailbox_id}, never the
path itself, so labels stay bounded), method and status."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from postroom.metrics import events


class HttpMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            events.http_request(
                _template(scope), scope["method"], status, time.perf_counter() - started
            )


def _template(scope: Scope) -> str:
    """The matched route's template, rebuilt from the path and its parameters (a nested
    router's route knows only its own part of the path); unmatched paths share one label."""
    if scope.get("route") is None:
        return "unmatched"
    params: dict[str, Any] = scope.get("path_params") or {}
    by_value = {str(value): name for name, value in params.items()}
    segments = str(scope.get("path", "")).split("/")
    template = "/".join("{" + by_value[s] + "}" if s in by_value else s for s in segments)
    for value, name in by_value.items():
        if "/" in value:  # a {path:path} parameter spans segments
            template = template.replace(value, "{" + name + "}")
    return template
