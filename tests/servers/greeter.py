"""A TCP listener that greets like a mail server and records every byte a client sends, so a
test proves a probe reads the greeting and sends nothing (no login, no password)."""

from __future__ import annotations

import socket
import ssl
import threading

from .loopback import LoopbackServer

__all__ = ["Greeter"]


class Greeter(LoopbackServer):
    def __init__(self, greeting: bytes, tls: ssl.SSLContext | None = None) -> None:
        self.greeting = greeting
        self.received = bytearray()
        self.connections = 0
        self._tls = tls
        self._listener = socket.create_server((self.host, 0))
        self.port: int = self._listener.getsockname()[1]
        self._talks: list[threading.Thread] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # shut down by stop()
            talk = threading.Thread(target=self._talk, args=(conn,), daemon=True)
            self._talks.append(talk)
            talk.start()

    def _talk(self, conn: socket.socket) -> None:
        self.connections += 1
        try:
            conn.settimeout(5)
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            conn.sendall(self.greeting)
            while chunk := conn.recv(4096):
                self.received += chunk
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._thread.join()
        self._listener.close()
        for talk in self._talks:  # each ends when its client hangs up: then `received` is final
            talk.join()
