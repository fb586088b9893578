"""The per-server connection cap: connections one worker holds for one login on one server,
IDLE and fetches together, stay within the server's `max_connections`. Dovecot refuses more
than `mail_max_userip_connections` (10 by default) per user and address, and a worker that
hits that limit locks itself out of its own mailbox."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Hashable


class Slots:
    def __init__(self) -> None:
        self._held: Counter[Hashable] = Counter()
        self._lock = threading.Lock()

    def take(self, key: Hashable, limit: int) -> bool:
        """One more connection for `key` if fewer than `limit` are held; False otherwise."""
        with self._lock:
            if self._held[key] >= limit:
                return False
            self._held[key] += 1
            return True

    def give(self, key: Hashable) -> None:
        with self._lock:
            self._held[key] -= 1
            if self._held[key] <= 0:
                del self._held[key]

    def held(self, key: Hashable) -> int:
        with self._lock:
            return self._held[key]
