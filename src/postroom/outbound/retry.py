"""When to try a deferred email again: exponential backoff with jitter, until a deadline."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

FIRST_DELAY = timedelta(minutes=1)
LONGEST_DELAY = timedelta(hours=2)
DEADLINE = timedelta(days=2)  # as long as a mail server keeps trying (RFC 5321 suggests 4-5)


def next_attempt(now: datetime, attempts: int, rng: random.Random | None = None) -> datetime:
    delay = min(FIRST_DELAY * (1 << min(max(attempts - 1, 0), 20)), LONGEST_DELAY)
    # Jitter, so that servers that come back are not stampeded by everything deferred at once.
    jitter = rng.uniform(0.8, 1.2) if rng is not None else random.uniform(0.8, 1.2)
    return now + delay * jitter
