"""What the local Graph and Gmail APIs share: an HTTPS server with the test CA's certificate
whose every route first checks the caller's bearer token (and any throttling), then serves
the mailbox of the user that check named."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .certs import TestCA
from .http import Handler, HttpServer, Request, Response
from .identity import IdentityServer
from .loopback import LoopbackServer

__all__ = ["CloudApiServer", "UserRoute"]

#: (method, path regex, endpoint); the endpoint gets the request and the authorised user.
UserRoute = tuple[str, str, Callable[[Request, str], Response]]


@dataclass
class CloudApiServer(LoopbackServer):
    identity: IdentityServer
    ca: TestCA
    page_size: int = 10

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.http = HttpServer(
            [(method, path, self._authorised(serve)) for method, path, serve in self._routes()],
            tls=self.ca.server_ssl_context(),
        )

    @property
    def base_url(self) -> str:
        return self.http.base_url

    def start(self) -> None:
        self.http.start()

    def stop(self) -> None:
        self.http.stop()

    def _routes(self) -> Sequence[UserRoute]:
        raise NotImplementedError

    def _auth(self, request: Request) -> str | Response:
        """The user whose mail the request may touch, or the provider's refusal."""
        raise NotImplementedError

    def _authorised(self, serve: Callable[[Request, str], Response]) -> Handler:
        def handler(request: Request) -> Response:
            user = self._auth(request)
            if isinstance(user, Response):
                return user
            return serve(request, user)

        return handler
