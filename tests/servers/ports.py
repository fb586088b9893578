"""Loopback port allocation for test servers."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago.

    Servers such as Dovecot need their ports written into a config file before they
    start, so they cannot bind port 0 themselves. Asking the kernel for an ephemeral
    port and releasing it is racy in principle, but the window is tiny and the
    ephemeral range is large, so collisions are rare enough for a test suite.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
