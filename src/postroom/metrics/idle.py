"""How many IMAP IDLE connections this process holds, read from the scheduler's IDLE hub."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from postroom.workers.hub import IdleHub


def connections_held(hub: IdleHub | None) -> int:
    return 0 if hub is None else hub.count()
