"""How many IMAP IDLE connections this process holds, read from the scheduler's IDLE object.

The one place that knows that object's insides: when the watchers become a hub, only this
function changes."""

from __future__ import annotations

from typing import Any


def connections_held(watchers: Any) -> int:
    if watchers is None:
        return 0
    with watchers.lock:
        return len(watchers.clients)
