"""Calls that wait on someone else's network (discovery, connection tests) run here: per user at
most a few at once and a few a minute, on threads of their own, so one user's slow domain never
takes the threads, the database connections or the event loop everybody else needs."""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Annotated, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import Depends, Request

from postroom.config import get_settings
from postroom.errors import RateLimited
from postroom.services.actors import Actor

T = TypeVar("T")
WINDOW_SECONDS = 60.0


class NetworkCalls:
    """Counts per user in this process; several processes each keep their own counts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, int] = defaultdict(int)
        self._started: dict[str, deque[float]] = defaultdict(deque)
        self._threads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = (
            weakref.WeakKeyDictionary()
        )

    def _limiter(self) -> CapacityLimiter:
        loop = asyncio.get_running_loop()
        limiter = self._threads.get(loop)
        if limiter is None:
            limiter = self._threads[loop] = CapacityLimiter(get_settings().network_threads)
        return limiter

    def _admit(self, who: str) -> None:
        settings = get_settings()
        now = time.monotonic()
        with self._lock:
            started = self._started[who]
            while started and started[0] <= now - WINDOW_SECONDS:
                started.popleft()
            if self._running[who] >= settings.network_calls_at_once:
                raise RateLimited(
                    f"You already have {self._running[who]} discoveries or tests running: "
                    "wait for them to finish."
                )
            if len(started) >= settings.network_calls_per_minute:
                raise RateLimited(
                    f"You started {len(started)} discoveries or tests in the last minute: "
                    "wait a minute, then try again."
                )
            self._running[who] += 1
            started.append(now)

    def _release(self, who: str) -> None:
        with self._lock:
            self._running[who] -= 1

    async def run(self, actor: Actor, call: Callable[[], T]) -> T:
        """`call` on a network thread once the actor is admitted; RateLimited (429) if not."""
        who = str(actor.user_id) if actor.user_id is not None else actor.label
        self._admit(who)
        try:
            return await anyio.to_thread.run_sync(call, limiter=self._limiter())
        finally:
            self._release(who)

    async def wait(self, call: Callable[[], T]) -> T:
        """`call` on a network thread, uncounted: for a wait no user chooses to repeat (a
        sign-in's code, redeemed once per state), which still must not take the threads the
        database work of everyone else runs on."""
        return await anyio.to_thread.run_sync(call, limiter=self._limiter())


def network_calls(request: Request) -> NetworkCalls:
    """The app's one set of counts (each app its own, so tests do not share them)."""
    calls = request.app.state.network_calls
    assert isinstance(calls, NetworkCalls)
    return calls


NetworkCallsDep = Annotated[NetworkCalls, Depends(network_calls)]
