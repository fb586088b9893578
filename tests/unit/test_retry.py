from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from postroom.outbound.retry import FIRST_DELAY, LONGEST_DELAY, next_attempt

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_the_delay_doubles_with_each_attempt_within_the_jitter() -> None:
    delays = [next_attempt(NOW, n, random.Random(1)) - NOW for n in range(1, 6)]
    for attempt, delay in enumerate(delays, start=1):
        expected = FIRST_DELAY * 2 ** (attempt - 1)
        assert expected * 0.8 <= delay <= expected * 1.2


def test_the_delay_never_exceeds_the_longest_delay_plus_jitter() -> None:
    assert next_attempt(NOW, 40, random.Random(2)) - NOW <= LONGEST_DELAY * 1.2


def test_jitter_spreads_retries_of_items_that_failed_together() -> None:
    rng = random.Random(3)
    assert len({next_attempt(NOW, 3, rng) for _ in range(20)}) > 15
    assert min(next_attempt(NOW, 1, rng) - NOW for _ in range(50)) > timedelta(0)
