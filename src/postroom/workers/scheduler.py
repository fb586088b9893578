"""The runtime of one worker: the IDLE hub says when mail arrives, the scheduler decides what
to fetch when, and fetch threads do it (services/fetching.py). Ownership among workers is in
ownership.py.

- A mailbox under a healthy IDLE is not polled; the hub's STATUS check at each IDLE renewal
  is its rare check. POP3, Graph, Gmail, servers without IDLE and mailboxes whose IDLE broke
  are polled at their interval with jitter (backoff on failure: services/fetching.py).
- Fetches wait in a priority queue: a wake-up (IDLE, `fetch_now`) goes ahead of every
  scheduled poll; a mailbox is queued or running at most once, and a wake-up during its fetch
  runs it again right after.
- The schedule lives in memory (a heap of due times): after a fetch only that mailbox is
  read back, never the whole table. The heartbeat (every lease/4) is the one periodic read
  of all receiving mailboxes; it claims, releases and notices `next_poll_at` cleared by
  another process (a reconnect, a push notification).
- Outbox, webhooks, token renewal and upkeep run in a small pool of their own, so they never
  wait behind fetches nor fetches behind them.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import queue
import random
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy import Engine, select, update

from postroom.config import get_settings
from postroom.domain.settings import Protocol
from postroom.errors import LeaseLost, PostroomError
from postroom.metrics import events as metrics
from postroom.metrics.idle import connections_held
from postroom.services import delivery, fetching, push, sync_runs, tokens, webhook_delivery
from postroom.services.credentials import credentials_of
from postroom.services.fetching import MailboxRun
from postroom.services.servers import endpoint_of
from postroom.storage.db import unit_of_work
from postroom.storage.models import FetchCursor, Mailbox, Server, aware, utcnow
from postroom.workers import maintenance, periodic
from postroom.workers.hub import IdleHub, IdleTarget, Timings
from postroom.workers.ownership import Ownership, owner_of
from postroom.workers.sessions import Sessions
from postroom.workers.slots import Slots

log = logging.getLogger(__name__)

OUTBOX_TICK = 5.0  # how often the outbox is looked at for due email
TOKENS_TICK = 60.0  # how often OAuth2 tokens near expiry are renewed (well inside the look-ahead)
SYNC_TICK = 30.0  # how often due contact and calendar syncs are looked for (each every ~5 min)
UPKEEP_TICK = 3600.0  # how often held mail past its retention and expired sign-ins are removed
CAP_RETRY = 2.0  # seconds before a fetch that found its connection cap full tries again
WAKE, POLL = 0, 1  # queue priorities: a wake-up goes first
STOP = -1


@dataclass
class Owned:
    """A mailbox this worker owns, as the schedule needs it."""

    epoch: int
    protocol: str
    interval: int
    slot: tuple[int, str]  # (server, login): what the connection cap counts
    max_connections: int
    idle: bool = False  # under a healthy IDLE: not polled
    due: float | None = None  # monotonic time of the next poll


class Scheduler:
    def __init__(
        self,
        engine: Engine,
        workers: int = 8,  # fetch threads: a fetch mostly waits (server, commit), so 8 overlap
        idle: bool = True,
        on_run: Callable[[MailboxRun], None] | None = None,
        on_upkeep: Callable[[maintenance.Upkeep], None] | None = None,
        name: str | None = None,
        on_sync: Callable[[sync_runs.SyncRun], None] | None = None,
        lease: float | None = None,
        timings: Timings | None = None,
    ) -> None:
        self.engine = engine
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        lease = lease or get_settings().worker_lease
        self.beat_every = lease / 4
        self.ownership = Ownership(engine, self.name, lease)
        self.on_run = on_run
        self.on_upkeep = on_upkeep
        self.on_sync = on_sync
        self.slots = Slots()
        self.sessions = Sessions(self.slots)
        self.lock = threading.Lock()
        self.owned: dict[int, Owned] = {}
        self.heap: list[tuple[float, int]] = []
        self.fetches: queue.PriorityQueue[tuple[int, int, int]] = queue.PriorityQueue()
        self.order = itertools.count()
        self.pending: dict[int, int] = {}  # mailbox → best priority queued
        self.running: set[int] = set()
        self.again: set[int] = set()  # woken while running: fetch again after
        self.fetchers = [
            threading.Thread(target=self._fetcher, name=f"fetch-{i}", daemon=True)
            for i in range(workers)
        ]
        self.jobs = ThreadPoolExecutor(max_workers=2, thread_name_prefix="jobs")
        self.rare = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rare")
        # Contacts and calendars: one thread, so a slow account delays only other syncs.
        self.syncs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync")
        self.syncing: Future[None] | None = None
        self.sync_due = 0.0
        self.live: list[str] = [self.name]  # the live workers, as the last heartbeat saw them
        self.sending: Future[None] | None = None
        self.sending_due = 0.0  # monotonic time of the next look at the outbox
        self.notifying: Future[None] | None = None  # webhook deliveries
        self.notifying_due = 0.0
        self.renewing: Future[None] | None = None
        self.tokens_due = 0.0  # monotonic time of the next token renewal round
        self.upkeep: Future[None] | None = None
        self.upkeep_due = 0.0  # monotonic time of the next upkeep round; the first at start
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.idle = (
            IdleHub(self._target, self._woken, self._watching, self.slots, timings)
            if idle
            else None
        )
        self.periodic = periodic.jobs()  # the daily gap check, the doctor's notices
        self.thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)

    # ------------------------------------------------------------------------ public

    def start(self) -> None:
        if self.idle is not None:
            self.idle.start()
        for fetcher in self.fetchers:
            fetcher.start()
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self.idle is not None:
            self.idle.stop()
        self.thread.join(timeout=10)
        for _ in self.fetchers:
            self.fetches.put((STOP, 0, 0))
        for fetcher in self.fetchers:
            fetcher.join(timeout=30)
        self.jobs.shutdown(wait=True, cancel_futures=True)
        self.rare.shutdown(wait=False, cancel_futures=True)  # a day's gap check need not finish
        self.syncs.shutdown(wait=True, cancel_futures=True)  # a pass commits page by page
        self.sessions.close_all()
        try:
            self.ownership.leave()
        except Exception:  # the lease runs out by itself; others take over then
            log.exception("worker %s could not hand its mailboxes back", self.name)

    def fetch_now(self, mailbox_id: int) -> None:
        """New mail is waiting (IDLE, a push notification): fetch ahead of scheduled polls.
        A mailbox another worker owns is flagged in the database; its owner's next heartbeat
        fetches it."""
        with self.lock:
            mine = mailbox_id in self.owned
        if mine:
            self._enqueue(mailbox_id, WAKE)
            return
        with unit_of_work(self.engine) as db:
            db.execute(update(Mailbox).where(Mailbox.id == mailbox_id).values(next_poll_at=None))

    def owned_ids(self) -> set[int]:
        with self.lock:
            return set(self.owned)

    # ----------------------------------------------------------------------- the loop

    def _loop(self) -> None:
        beat_due = 0.0
        while not self.stopping.is_set():
            now = time.monotonic()
            try:
                if now >= beat_due:
                    self._beat()
                    beat_due = now + self.beat_every
                self._release_due(now)
                self._submit_jobs()
                self.sessions.sweep()
                for job in self.periodic:  # rare and long: a thread of their own
                    job.submit_if_due(self.rare, self.engine, self.lock)
                metrics.idle_connections(connections_held(self.idle))
            except Exception:  # the loop must outlive a database hiccup; it logs and retries
                log.exception("the scheduler could not read the schedule")
                beat_due = now + self.beat_every
            with self.lock:
                self._drop_cancelled()
                first = self.heap[0][0] if self.heap else now + OUTBOX_TICK
            wait = max(0.0, min(first - time.monotonic(), beat_due - now, OUTBOX_TICK))
            self.wake.wait(timeout=wait)
            self.wake.clear()

    def _drop_cancelled(self) -> None:
        """Caller holds the lock. Entries of mailboxes rescheduled since, gone, or now under a
        healthy IDLE are dropped from the top, so the loop sleeps until a real due time instead
        of waking once for each of them (after adopting 2,000 mailboxes, 2,000 wake-ups within a
        few seconds, one poll interval later, each running the loop's upkeep)."""
        while self.heap:
            at, mailbox_id = self.heap[0]
            owned = self.owned.get(mailbox_id)
            if owned is not None and owned.due == at:
                return
            heapq.heappop(self.heap)

    def _release_due(self, now: float) -> None:
        due: list[int] = []
        with self.lock:
            while self.heap and self.heap[0][0] <= now:
                at, mailbox_id = heapq.heappop(self.heap)
                owned = self.owned.get(mailbox_id)
                if owned is not None and owned.due == at:  # else: rescheduled or cancelled
                    owned.due = None
                    due.append(mailbox_id)
        for mailbox_id in due:
            self._enqueue(mailbox_id, POLL)

    def _schedule(self, owned: Owned, mailbox_id: int, seconds: float) -> None:
        """Caller holds the lock."""
        owned.due = time.monotonic() + max(0.0, seconds)
        heapq.heappush(self.heap, (owned.due, mailbox_id))
        self.wake.set()

    # ------------------------------------------------------------------ ownership

    def _beat(self) -> None:
        with self.lock:
            busy = set(self.running)
        beat = self.ownership.beat(keep=busy)
        with self.lock:
            self.live = beat.live or [self.name]
            gone = [i for i in self.owned if i not in beat.owned]
            for mailbox_id in gone:
                del self.owned[mailbox_id]
                self.pending.pop(mailbox_id, None)
            for mailbox_id, owned in self.owned.items():
                owned.epoch = beat.owned[mailbox_id]
            new = [i for i in beat.owned if i not in self.owned]
        for mailbox_id in gone:
            if self.idle is not None:
                self.idle.unwatch(mailbox_id)
        self._adopt(new, beat.owned)
        # A mailbox never fetched has no next poll yet; under the hub, its first EXAMINE says
        # whether mail waits, so it is not fetched twice.
        if self.idle is not None:
            with self.lock:
                hubbed = {i for i in new if self.owned[i].protocol == Protocol.IMAP.value}
            beat.nudged -= hubbed
        # Taken over from a dead worker: IMAP mailboxes are fetched when the hub's first EXAMINE
        # finds mail past the stored cursor, the others at their next poll; a batch the dead
        # worker committed without acknowledging is acknowledged then (never imported twice).
        for mailbox_id in beat.nudged:
            self._enqueue(mailbox_id, WAKE)

    def _adopt(self, ids: list[int], epochs: dict[int, int]) -> None:
        """Mailboxes newly ours: read what the schedule needs, in chunks, and start them."""
        now = utcnow()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            with self.engine.connect() as connection:
                rows = connection.execute(
                    select(
                        Mailbox.id,
                        Mailbox.poll_interval,
                        Mailbox.next_poll_at,
                        Mailbox.username,
                        Mailbox.address,
                        Server.id,
                        Server.protocol,
                        Server.max_connections,
                    )
                    .join(Server, Server.id == Mailbox.incoming_server_id)
                    .where(Mailbox.id.in_(chunk))
                ).all()
            watch: list[int] = []
            with self.lock:
                for mid, interval, next_poll, username, address, server, protocol, cap in rows:
                    owned = Owned(
                        epoch=epochs[mid],
                        protocol=protocol,
                        interval=interval,
                        slot=(server, (username or address).lower()),
                        max_connections=cap,
                    )
                    self.owned[mid] = owned
                    hub = self.idle is not None and protocol == Protocol.IMAP.value
                    if hub:  # the hub's first EXAMINE wakes it if mail waits; polling backs it up
                        seconds = interval * random.uniform(0.9, 1.1)
                        watch.append(mid)
                    elif next_poll is None:
                        seconds = random.uniform(0, min(interval, 5))  # spread a cold start
                    else:
                        seconds = (aware(next_poll) - now).total_seconds()
                    self._schedule(owned, mid, seconds)
            if watch:
                assert self.idle is not None
                targets = self._targets(watch)
                for mid in watch:
                    self.idle.watch(mid, targets.get(mid))

    # -------------------------------------------------------------- hub callbacks

    def _woken(self, mailbox_id: int) -> None:
        """From the hub's thread: mail arrived."""
        self._enqueue(mailbox_id, WAKE)

    def _watching(self, mailbox_id: int, healthy: bool) -> None:
        """From the hub's thread: IDLE holds (no polling) or broke (poll until it holds)."""
        with self.lock:
            owned = self.owned.get(mailbox_id)
            if owned is None or owned.idle == healthy:
                return
            owned.idle = healthy
            if healthy:
                owned.due = None  # lazily dropped from the heap
            else:
                self._schedule(owned, mailbox_id, random.uniform(0, owned.interval))

    def _target(self, mailbox_id: int) -> IdleTarget | None:
        """Run by the hub (in a thread) at each reconnect, so credentials are fresh."""
        return self._targets([mailbox_id]).get(mailbox_id)

    def _targets(self, ids: list[int]) -> dict[int, IdleTarget]:
        """What the hub needs for these mailboxes, in two queries."""
        with self.lock:
            owned = {i: self.owned[i] for i in ids if i in self.owned}
        found: dict[int, IdleTarget] = {}
        with unit_of_work(self.engine) as db:
            rows = db.scalars(select(Mailbox).where(Mailbox.id.in_(list(owned)))).unique()
            cursors = {
                (c.mailbox_id, c.folder): c
                for c in db.scalars(
                    select(FetchCursor).where(FetchCursor.mailbox_id.in_(list(owned)))
                )
            }
            for mailbox in rows:
                server = mailbox.incoming_server
                if server is None or not mailbox.receive_enabled:
                    continue
                try:
                    credentials = credentials_of(mailbox, server)
                except PostroomError:
                    continue  # an OAuth2 mailbox whose sign-in is gone: polling reports it
                if credentials is None:
                    continue
                cursor = cursors.get((mailbox.id, mailbox.folder))
                found[mailbox.id] = IdleTarget(
                    mailbox_id=mailbox.id,
                    endpoint=endpoint_of(server),
                    credentials=credentials,
                    folder=mailbox.folder,
                    slot=owned[mailbox.id].slot,
                    max_connections=owned[mailbox.id].max_connections,
                    validity=cursor.validity if cursor is not None else None,
                    last_uid=cursor.last_uid if cursor is not None else 0,
                )
        return found

    # -------------------------------------------------------------------- fetching

    def _enqueue(self, mailbox_id: int, priority: int) -> None:
        with self.lock:
            if mailbox_id not in self.owned:
                return
            if mailbox_id in self.running:
                if priority == WAKE:
                    self.again.add(mailbox_id)
                return
            queued = self.pending.get(mailbox_id)
            if queued is not None and queued <= priority:
                return
            self.pending[mailbox_id] = priority
            self.fetches.put((priority, next(self.order), mailbox_id))

    def _fetcher(self) -> None:
        while True:
            priority, _, mailbox_id = self.fetches.get()
            if priority == STOP:
                return
            with self.lock:
                owned = self.owned.get(mailbox_id)
                if self.pending.get(mailbox_id) != priority or owned is None:
                    continue  # superseded by a wake-up, or no longer ours
                del self.pending[mailbox_id]
                self.running.add(mailbox_id)
            try:
                self._run(mailbox_id, owned)
            finally:
                with self.lock:
                    self.running.discard(mailbox_id)
                    again = mailbox_id in self.again
                    self.again.discard(mailbox_id)
                if again and not self.stopping.is_set():
                    self._enqueue(mailbox_id, WAKE)

    def _run(self, mailbox_id: int, owned: Owned) -> None:
        lease = self.sessions.lease(mailbox_id, owned.slot, owned.max_connections)
        if lease is None:  # the connection cap is reached
            with self.lock:
                self._schedule(owned, mailbox_id, CAP_RETRY)
            return
        try:
            fence = partial(self.ownership.fence, mailbox_id=mailbox_id, epoch=owned.epoch)
            run = fetching.fetch_mailbox(self.engine, mailbox_id, fence=fence, receivers=lease)
        except Exception:
            log.exception("fetching mailbox %s failed unexpectedly", mailbox_id)
            self._postpone(mailbox_id, owned)
            return
        finally:
            lease.release()
        if run.failure == LeaseLost.code:
            return  # the next heartbeat drops it
        self._reschedule(mailbox_id, owned, run)
        if run.fetched:
            log.info("%s: %d fetched", run.address, run.fetched)
        if self.on_run is not None:
            self.on_run(run)

    def _reschedule(self, mailbox_id: int, owned: Owned, run: MailboxRun) -> None:
        """Only this mailbox's row is read back: the fetch wrote its next poll (with backoff)."""
        with self.engine.connect() as connection:
            next_poll = connection.scalar(
                select(Mailbox.next_poll_at).where(Mailbox.id == mailbox_id)
            )
        with self.lock:
            if self.owned.get(mailbox_id) is not owned:
                return
            if owned.idle and run.ok:
                owned.due = None
            elif next_poll is not None:
                self._schedule(owned, mailbox_id, (aware(next_poll) - utcnow()).total_seconds())

    def _postpone(self, mailbox_id: int, owned: Owned) -> None:
        """A fetch that crashed wrote no next poll: try again after its interval, not at the
        next heartbeat."""
        with self.lock:
            self._schedule(owned, mailbox_id, owned.interval)
        try:
            with unit_of_work(self.engine) as db:
                db.execute(
                    update(Mailbox)
                    .where(Mailbox.id == mailbox_id)
                    .values(next_poll_at=utcnow() + timedelta(seconds=owned.interval))
                )
        except Exception:
            log.exception("could not postpone mailbox %s", mailbox_id)

    # ------------------------------------------------------------------------ jobs

    def _submit_jobs(self) -> None:
        now = time.monotonic()
        with self.lock:
            # Paced, not run at every wake-up: a busy fetch schedule wakes the loop often.
            if now >= self.sending_due and (self.sending is None or self.sending.done()):
                self.sending_due = now + OUTBOX_TICK
                self.sending = self.jobs.submit(self._send)
            if now >= self.notifying_due and (self.notifying is None or self.notifying.done()):
                self.notifying_due = now + OUTBOX_TICK
                self.notifying = self.jobs.submit(self._notify)
            if now >= self.tokens_due and (self.renewing is None or self.renewing.done()):
                self.tokens_due = now + TOKENS_TICK
                self.renewing = self.jobs.submit(self._renew)
            if now >= self.sync_due and (self.syncing is None or self.syncing.done()):
                self.sync_due = now + SYNC_TICK
                self.syncing = self.syncs.submit(self._sync)
            if now >= self.upkeep_due and (self.upkeep is None or self.upkeep.done()):
                self.upkeep_due = now + UPKEEP_TICK
                self.upkeep = self.jobs.submit(self._keep_up)

    def _sync(self) -> None:
        """Due contact and calendar syncs of the mailboxes this worker owns; a mailbox it
        fetches is fenced with the fetch lease's epoch, as a fetched batch is."""
        with self.lock:
            live = list(self.live)
        try:
            for due in sync_runs.due(
                self.engine, self.name, lambda i: owner_of(live, i) == self.name
            ):
                if self.stopping.is_set():
                    return
                fence = (
                    partial(self.ownership.fence, mailbox_id=due.mailbox_id, epoch=due.epoch)
                    if due.epoch is not None
                    else sync_runs.unfenced
                )
                run = sync_runs.sync_mailbox(self.engine, due.mailbox_id, due.kind, fence=fence)
                if run.pulled or run.pushed or not run.ok:
                    log.info("sync %s of %s: %s", due.kind, run.address, run.as_dict())
                if self.on_sync is not None:
                    self.on_sync(run)
        except Exception:  # logged; each mailbox's own failure is already in its sync state
            log.exception("syncing contacts and calendars failed unexpectedly")

    def _notify(self) -> None:
        try:
            webhook_delivery.flush_once(self.engine)
        except Exception:  # logged; the next tick tries again, the rows keep their state
            log.exception("delivering webhooks failed unexpectedly")

    def _keep_up(self) -> None:
        done = maintenance.run(self.engine)  # logs its own failures
        if self.on_upkeep is not None:
            self.on_upkeep(done)

    def _renew(self) -> None:
        try:
            tokens.renew_due(self.engine)
            push.keep_up(self.engine)  # Graph subscriptions and Gmail watches
        except Exception:  # logged; a mailbox's own failure is already in its state
            log.exception("renewing OAuth2 tokens failed unexpectedly")

    def _send(self) -> None:
        try:
            delivery.flush_once(self.engine)
        except Exception:  # logged; the next tick tries again, the rows keep their state
            log.exception("sending the outbox failed unexpectedly")
