"""What every HTTP exchange passes through before any route: the size of the body, judged from
its Content-Length before a byte of it is read (and only for a known caller when it is more than
a small form); and the headers that keep the console out of frames and other sites' scripts."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from postroom.api import problems
from postroom.config import get_settings
from postroom.errors import NotSignedIn

# Swagger UI (/api/docs) loads its script and style from a CDN, with one inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "frame-ancestors 'none'"
)
CSP = (
    "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _refusal(scope: Scope, status: int, code: str, detail: str) -> Response:
    request = Request(scope)
    if problems.is_api(request):
        return problems.problem(status, code, detail)
    from postroom.web.render import error_page

    return error_page(request, status, detail)


def _known_caller(scope: Scope) -> bool:
    """Whether the request carries credentials that name a user: checked before a large body
    is read, so nobody unknown can make the server take in megabytes."""
    from postroom.api.deps import identify

    try:
        identify(Request(scope))
    except NotSignedIn:
        return False
    return True


class Edge:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] == "/api/docs" else CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", csp)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        refusal = await self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, with_headers)
            return
        await self.app(scope, receive, with_headers)

    async def _refusal(self, scope: Scope) -> Response | None:
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is None:
            if "chunked" in headers.get("transfer-encoding", "").lower():
                return _refusal(scope, 411, "length-required", "Send the body's Content-Length.")
            return None
        try:
            length = int(declared)
        except ValueError:
            return _refusal(scope, 400, "bad-request", "The Content-Length is not a number.")
        settings = get_settings()
        if length > settings.max_body_size:
            return _refusal(
                scope,
                413,
                "body-too-large",
                f"The body is {length} bytes; at most {settings.max_body_size} are accepted "
                "(POSTROOM_MAX_BODY_SIZE).",
            )
        if length > settings.max_anonymous_body_size and not await run_in_threadpool(
            _known_caller, scope
        ):
            return _refusal(
                scope,
                401,
                "not-signed-in",
                "Sign in first, or send an API token as 'Authorization: Bearer TOKEN'.",
            )
        return None


def _trusted(address: str, networks: str) -> bool:
    try:
        peer = ip_address(address)
    except ValueError:
        return False
    for item in networks.split(","):
        if item.strip():
            try:
                if peer in ip_network(item.strip(), strict=False):
                    return True
            except ValueError:
                continue
    return False


def client_address(connection: HTTPConnection) -> str:
    """The client's address: the peer's, unless the peer is a proxy in POSTROOM_TRUSTED_PROXIES;
    then the nearest address in X-Forwarded-For that is not one of those proxies."""
    peer = connection.client.host if connection.client else "unknown"
    trusted = get_settings().trusted_proxies
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in connection.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _trusted(hop, trusted):
            return hop
    return peer
