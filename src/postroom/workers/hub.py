"""The IDLE hub: every IMAP IDLE connection of a worker in one asyncio event loop, one thread.

Why asyncio and not a hand-written selector loop: measured here with 2,000 idle loopback
connections, a selector with a small state object costs ~0.8 KB a connection and an asyncio
stream with its task ~7.5 KB; both use no CPU while idle. The 7 KB is 7 % of the 100 KB a
mailbox may cost, and asyncio gives STARTTLS (`start_tls`), timeouts and straight-line
protocol code per connection for it, where a selector loop would need a hand-made state
machine per command. (The thread per mailbox this replaces cost ~950 KB a mailbox.)

The hub only says "mail arrived" (`on_wake`) and "this mailbox is / is no longer under a
healthy IDLE" (`on_watching`); fetching stays with the scheduler's threads. Each connection:
- re-issues IDLE (DONE, STATUS UIDNEXT, IDLE) before RFC 2177's 29 minutes, jittered so
  thousands of them never renew at once; the STATUS is the rare check that replaces polling;
- does the same when the server has said nothing for `quiet` seconds, so a half-open socket
  (the peer gone without a FIN) is found by a DONE that is never answered; TCP keepalive
  finds it too;
- reconnects after BYE, a dropped connection or a timeout with exponential backoff and
  jitter, and only wakes the scheduler after a reconnect when UIDNEXT moved;
- takes a slot of its server's per-login connection cap, leaving one for fetching.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from postroom.connectors.imap_idle import (
    IdleSession,
    ServerBye,
    SessionLost,
    announces_mail,
    is_bye,
)
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.errors import PostroomError
from postroom.workers.slots import Slots

log = logging.getLogger(__name__)


OPENING = 32


@dataclass(frozen=True)
class IdleTarget:
    """What the hub needs to watch one mailbox, read from the database at each (re)connect."""

    mailbox_id: int
    endpoint: Endpoint
    credentials: Credentials
    folder: str
    slot: Hashable  # (server, login): the connection cap is per login
    max_connections: int
    validity: int | None = None  # the stored cursor: mail past it wakes the scheduler
    last_uid: int = 0


@dataclass(frozen=True)
class Timings:
    renew: float = 25 * 60.0  # RFC 2177: re-issue IDLE before the server's 29-30 minutes
    quiet: float = 5 * 60.0  # silence after which the connection is checked (Dovecot: 2 min)
    answer: float = 30.0  # seconds a server has to answer a command (DONE included)
    backoff: tuple[float, ...] = (2.0, 10.0, 30.0, 120.0, 300.0)  # after a lost connection
    refused: float = 600.0  # after the server refused the sign-in (polling records the state)
    full: float = 300.0  # after the connection cap was reached: try again later


class IdleHub:
    def __init__(
        self,
        resolve: Callable[[int], IdleTarget | None],
        on_wake: Callable[[int], None],
        on_watching: Callable[[int, bool], None],
        slots: Slots | None = None,
        timings: Timings | None = None,
        on_renewed: Callable[[int], None] | None = None,
    ) -> None:
        self.resolve = resolve  # runs in a thread: it reads the database
        self.on_wake = on_wake
        self.on_watching = on_watching
        # Told after each renewal (DONE, STATUS, IDLE again), so that a caller can wait for one.
        self.on_renewed = on_renewed or (lambda _mailbox_id: None)
        self.slots = slots or Slots()
        self.timings = timings or Timings()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="idle-hub", daemon=True)
        self.lookups = ThreadPoolExecutor(max_workers=2, thread_name_prefix="idle-lookup")
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.idling: set[int] = set()  # connections in IDLE right now
        self.uidnext: dict[int, int | None] = {}  # UIDNEXT when last looked, across reconnects
        # Sign-ins under way at once: a thousand at a time (a start, a takeover, a server
        # restart) only queue up in the server's auth process; in turns, each finishes sooner.
        self.opening = asyncio.Semaphore(OPENING)
        self.renewals = 0  # IDLE re-issued on a live connection (tests and metrics read it)
        self.connects = 0

    # -------------------------------------------------------------- from other threads

    def start(self) -> None:
        self.thread.start()

    def watch(self, mailbox_id: int, target: IdleTarget | None = None) -> None:
        """Hold IDLE on a mailbox; `target` spares the first connect its database read (the
        scheduler reads a thousand at once when it adopts mailboxes)."""
        self.loop.call_soon_threadsafe(self._watch, mailbox_id, target)

    def unwatch(self, mailbox_id: int) -> None:
        self.loop.call_soon_threadsafe(self._unwatch, mailbox_id)

    def count(self) -> int:
        """IDLE connections held now (the metrics gauge)."""
        return len(self.idling)

    def watched(self) -> int:
        return len(self.tasks)

    def stop(self) -> None:
        if self.thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._cancel_all(), self.loop)
            with contextlib.suppress(Exception):
                future.result(timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
        self.lookups.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------- in the loop

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def _watch(self, mailbox_id: int, target: IdleTarget | None) -> None:
        task = self.tasks.get(mailbox_id)
        if task is None or task.done():
            self.tasks[mailbox_id] = self.loop.create_task(self._hold(mailbox_id, target))

    def _unwatch(self, mailbox_id: int) -> None:
        self.uidnext.pop(mailbox_id, None)
        task = self.tasks.pop(mailbox_id, None)
        if task is not None:
            task.cancel()

    async def _cancel_all(self) -> None:
        tasks = list(self.tasks.values())
        self.tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _hold(self, mailbox_id: int, first: IdleTarget | None) -> None:
        """Keep one mailbox under IDLE until unwatched; returns when IDLE is not possible."""
        failures = 0
        try:
            while True:
                target = first or await self.loop.run_in_executor(
                    self.lookups, self.resolve, mailbox_id
                )
                first = None  # a reconnect reads fresh credentials
                if target is None:
                    return
                if not self.slots.take(target.slot, target.max_connections - 1):
                    log.info("mailbox %s: connection cap reached, polled instead", mailbox_id)
                    await asyncio.sleep(self.timings.full * random.uniform(0.8, 1.2))
                    continue
                delay = 0.0
                session: IdleSession | None = None
                try:
                    async with self.opening:
                        session = await IdleSession.open(
                            target.endpoint, target.credentials, self.timings.answer
                        )
                        self.connects += 1
                        if not session.can_idle:
                            return  # polling alone serves this mailbox
                        selected = await session.examine(target.folder)
                    failures = 0
                    self.on_watching(mailbox_id, True)
                    known = self.uidnext.get(mailbox_id)
                    if _moved(selected.uidnext, selected.validity, known, target):
                        self.on_wake(mailbox_id)  # mail came while no one watched
                    self.uidnext[mailbox_id] = selected.uidnext
                    await self._idle(mailbox_id, session, target)
                except PostroomError as exc:
                    delay = self.timings.refused
                    log.info("IDLE sign-in for mailbox %s refused: %s", mailbox_id, exc)
                except (OSError, TimeoutError, SessionLost, ValueError, EOFError) as exc:
                    delay = self._backoff(failures)
                    failures += 1
                    log.info(
                        "IDLE on mailbox %s lost (%s); again in %.1f s",
                        mailbox_id,
                        _describe(exc),
                        delay,
                    )
                finally:
                    self.idling.discard(mailbox_id)
                    if session is not None:
                        session.close()
                    self.slots.give(target.slot)
                self.on_watching(mailbox_id, False)
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self.idling.discard(mailbox_id)
            raise
        finally:
            if self.tasks.get(mailbox_id) is asyncio.current_task():
                del self.tasks[mailbox_id]

    async def _idle(self, mailbox_id: int, session: IdleSession, target: IdleTarget) -> None:
        """IDLE until the connection fails (raises); renews and checks on the way."""
        timings = self.timings
        while True:
            renew_at = time.monotonic() + timings.renew * random.uniform(0.8, 1.0)
            early = await session.idle()
            self.idling.add(mailbox_id)
            if any(announces_mail(line) for line in early):
                self.on_wake(mailbox_id)
            while (left := renew_at - time.monotonic()) > 0:
                try:
                    line = await session.line(min(left, timings.quiet))
                except TimeoutError:
                    break  # quiet for too long: check the connection now
                if is_bye(line):
                    raise ServerBye(line.decode(errors="replace").strip())
                if announces_mail(line):
                    self.on_wake(mailbox_id)
            self.idling.discard(mailbox_id)
            lines = await session.done()  # a dead or half-open connection times out here
            uidnext = await session.uidnext(target.folder)
            known = self.uidnext.get(mailbox_id)
            if any(announces_mail(line) for line in lines) or (
                uidnext is not None and known is not None and uidnext != known
            ):
                self.on_wake(mailbox_id)  # the rare check: something came that IDLE missed
            if uidnext is not None:
                self.uidnext[mailbox_id] = uidnext
            self.renewals += 1
            self.on_renewed(mailbox_id)

    def _backoff(self, failures: int) -> float:
        steps = self.timings.backoff
        return steps[min(failures, len(steps) - 1)] * random.uniform(0.5, 1.5)


def _moved(
    uidnext: int | None, validity: int | None, known: int | None, target: IdleTarget
) -> bool:
    """Whether mail may have come since it was last fetched (or last seen, on a reconnect)."""
    if uidnext is None:
        return True
    if known is not None:
        return uidnext != known
    return validity != target.validity or uidnext > target.last_uid + 1


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
