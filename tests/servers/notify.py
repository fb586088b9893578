"""How the local Graph and Gmail servers reach postroom: a plain HTTP POST on loopback, as the
providers' notification services do over the internet."""

from __future__ import annotations

import json
from typing import Any

import httpx

__all__ = ["post"]


def post(
    url: str, body: Any, *, headers: dict[str, str] | None = None, timeout: float = 10.0
) -> tuple[int, bytes, str]:
    """(status, body, content type); a connection that fails counts as status 0."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    content_type = "text/plain" if isinstance(body, bytes) else "application/json"
    try:
        answer = httpx.post(
            url,
            content=data,
            headers={"Content-Type": content_type} | (headers or {}),
            timeout=timeout,
        )
    except httpx.HTTPError:
        return 0, b"", ""
    return answer.status_code, answer.content, answer.headers.get("Content-Type", "")
