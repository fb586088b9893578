"""What every test server shares: it listens on loopback, is started and stopped, and is a
context manager, so a test writes `with Server(...) as server:` and cannot leak it."""

from __future__ import annotations

import socketserver
import threading
from types import TracebackType
from typing import Self

__all__ = ["LoopbackServer", "ThreadedLoopbackServer"]


class LoopbackServer:
    """A server on 127.0.0.1; `start` returns once it answers, `stop` is idempotent."""

    host = "127.0.0.1"

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ThreadedLoopbackServer(LoopbackServer):
    """A `socketserver` bound to a free loopback port and served from a daemon thread.

    Subclasses build the bound server in `_bind`; binding happens before the thread starts,
    so the port is known and owned (and clients may connect) as soon as `start` returns.
    """

    #: How often serve_forever looks for a shutdown request; short, so stopping is quick.
    poll_interval = 0.05

    _server: socketserver.BaseServer | None = None

    def _bind(self) -> socketserver.BaseServer:
        raise NotImplementedError

    def _release(self) -> None:
        """Let handlers that are waiting on something finish, so shutdown does not hang."""

    @property
    def port(self) -> int:
        assert self._server is not None, "start the server first"
        address = self._server.server_address
        assert isinstance(address, tuple)
        return int(address[1])

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        server = self._bind()
        self._server = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": self.poll_interval}, daemon=True
        ).start()

    def stop(self) -> None:
        self._release()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
