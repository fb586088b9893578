"""Polls each receiving mailbox at its interval (with jitter and backoff) and fetches at once
when an IMAP IDLE watcher says new mail arrived. A slow or failing mailbox occupies one worker
thread, never the loop, so it never delays the others."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import Engine, or_, select

from postroom.domain.settings import MailboxState, Protocol
from postroom.metrics import events as metrics
from postroom.metrics.idle import connections_held
from postroom.services import delivery, fetching, tokens, webhook_delivery
from postroom.services.fetching import MailboxRun
from postroom.storage.models import Mailbox, Server, utcnow
from postroom.workers import leases, maintenance, periodic
from postroom.workers.idle import IdleWatchers

log = logging.getLogger(__name__)

IDLE_TICK = 30.0  # longest sleep between looks at the schedule
OUTBOX_TICK = 5.0  # how often the outbox is looked at for due email
TOKENS_TICK = 60.0  # how often OAuth2 tokens near expiry are renewed (well inside the look-ahead)
UPKEEP_TICK = 3600.0  # how often held mail past its retention and expired sign-ins are removed


class Scheduler:
    def __init__(
        self,
        engine: Engine,
        workers: int = 4,
        idle: bool = True,
        on_run: Callable[[MailboxRun], None] | None = None,
        on_upkeep: Callable[[maintenance.Upkeep], None] | None = None,
    ) -> None:
        self.engine = engine
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch")
        self.running: dict[int, Future[None]] = {}
        self.sending: Future[None] | None = None
        self.notifying: Future[None] | None = None  # webhook deliveries
        self.renewing: Future[None] | None = None
        self.tokens_due = 0.0  # monotonic time of the next token renewal round
        self.upkeep: Future[None] | None = None
        self.upkeep_due = 0.0  # monotonic time of the next upkeep round; the first at start
        self.on_upkeep = on_upkeep
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.urgent: set[int] = set()
        self.lock = threading.Lock()
        self.on_run = on_run
        self.idle = IdleWatchers(engine, self.fetch_now) if idle else None
        self.periodic = periodic.jobs()  # the daily gap check, the doctor's notices
        self.thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()
        if self.idle is not None:
            self.idle.stop()
        self.thread.join(timeout=10)
        self.pool.shutdown(wait=True, cancel_futures=True)

    def fetch_now(self, mailbox_id: int) -> None:
        """Called by an IDLE watcher: new mail is waiting in this mailbox."""
        with self.lock:
            self.urgent.add(mailbox_id)
        self.wake.set()

    def _due(self, now: datetime) -> tuple[list[int], float]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(Mailbox.id, Mailbox.next_poll_at, Server.protocol)
                .join(Server, Server.id == Mailbox.incoming_server_id)
                .where(Mailbox.receive_enabled, Mailbox.state != MailboxState.DISABLED.value)
                .where(
                    or_(
                        Mailbox.lease_until.is_(None),
                        Mailbox.lease_until < now,
                        Mailbox.lease_owner == self.owner,
                    )
                )
            ).all()
        with self.lock:
            due = set(self.urgent)
            self.urgent.clear()
        wait = IDLE_TICK
        for mailbox_id, next_poll, protocol in rows:
            if self.idle is not None and protocol == Protocol.IMAP.value:
                self.idle.ensure(mailbox_id)
            if next_poll is None:
                due.add(mailbox_id)
                continue
            if next_poll.tzinfo is None:  # SQLite returns naive UTC
                next_poll = next_poll.replace(tzinfo=now.tzinfo)
            seconds = (next_poll - now).total_seconds()
            if seconds <= 0:
                due.add(mailbox_id)
            else:
                wait = min(wait, seconds)
        return sorted(due), wait

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                due, wait = self._due(utcnow())
                for mailbox_id in due:
                    self._submit(mailbox_id)
                self._submit_outbox()
                self._submit_webhooks()
                self._submit_renewals()
                self._submit_upkeep()
                for job in self.periodic:
                    job.submit_if_due(self.pool, self.engine, self.lock)
                metrics.idle_connections(connections_held(self.idle))
                wait = min(wait, OUTBOX_TICK)
            except Exception:  # the loop must outlive a database hiccup; it logs and retries
                log.exception("the scheduler could not read the schedule")
                wait = IDLE_TICK
            self.wake.wait(timeout=wait)
            self.wake.clear()

    def _submit(self, mailbox_id: int) -> None:
        with self.lock:
            busy = self.running.get(mailbox_id)
            if busy is not None and not busy.done():
                self.urgent.add(mailbox_id)  # fetch again as soon as this run ends
                return
            self.running[mailbox_id] = self.pool.submit(self._run, mailbox_id)

    def _submit_outbox(self) -> None:
        with self.lock:
            if self.sending is not None and not self.sending.done():
                return
            self.sending = self.pool.submit(self._send)

    def _submit_webhooks(self) -> None:
        with self.lock:
            if self.notifying is not None and not self.notifying.done():
                return
            self.notifying = self.pool.submit(self._notify)

    def _notify(self) -> None:
        try:
            webhook_delivery.flush_once(self.engine)
        except Exception:  # logged; the next tick tries again, the rows keep their state
            log.exception("delivering webhooks failed unexpectedly")

    def _submit_renewals(self) -> None:
        now = time.monotonic()
        with self.lock:
            if now < self.tokens_due or (self.renewing is not None and not self.renewing.done()):
                return
            self.tokens_due = now + TOKENS_TICK
            self.renewing = self.pool.submit(self._renew)

    def _submit_upkeep(self) -> None:
        now = time.monotonic()
        with self.lock:
            if now < self.upkeep_due or (self.upkeep is not None and not self.upkeep.done()):
                return
            self.upkeep_due = now + UPKEEP_TICK
            self.upkeep = self.pool.submit(self._keep_up)

    def _keep_up(self) -> None:
        done = maintenance.run(self.engine)  # logs its own failures
        if self.on_upkeep is not None:
            self.on_upkeep(done)

    def _renew(self) -> None:
        try:
            tokens.renew_due(self.engine)
        except Exception:  # logged; a mailbox's own failure is already in its state
            log.exception("renewing OAuth2 tokens failed unexpectedly")

    def _send(self) -> None:
        try:
            delivery.flush_once(self.engine)
        except Exception:  # logged; the next tick tries again, the rows keep their state
            log.exception("sending the outbox failed unexpectedly")

    def _run(self, mailbox_id: int) -> None:
        if not leases.claim(self.engine, mailbox_id, self.owner):
            return  # another worker has it
        try:
            run = fetching.fetch_mailbox(self.engine, mailbox_id)
        except Exception:
            log.exception("fetching mailbox %s failed unexpectedly", mailbox_id)
            return
        finally:
            leases.release(self.engine, mailbox_id, self.owner)
            self.wake.set()
        if self.on_run is not None:
            self.on_run(run)
