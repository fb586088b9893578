"""Who owns which mailbox: every receiving mailbox belongs to exactly one live worker.

Workers heartbeat into the `workers` table. A mailbox's lease is its `lease_owner` naming a
worker whose heartbeat is younger than the lease (default 20 s), so one heartbeat renews all
of a worker's leases with one row write. The owner is chosen by rendezvous hashing over the
live workers: each worker computes the same answer, claims its share of mailboxes that have no
live owner and releases those that now hash to a newcomer, so joins and leaves move only the
mailboxes they must. Taking a mailbox from a dead (or paused) worker raises its `lease_epoch`;
the transaction that commits a fetched batch checks the epoch it started with (`fence`), so a
worker that wakes up past its lease cannot commit, and never acknowledges. SQLite runs the
same code with one worker.

On PostgreSQL a worker also holds a session advisory lock keyed by its name on a connection of
its own. PostgreSQL drops that lock the moment the process dies (kill -9, a crash: the kernel
closes its socket), so the others see a dead worker at their next heartbeat instead of after
the lease: a worker whose row has no lock behind it is gone. A worker that is paused or cut
off from the database keeps its lock or loses it; either way the lease and the fencing token
still decide, so this only makes takeover sooner, never less safe.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from postroom.domain.settings import MailboxState
from postroom.errors import LeaseLost
from postroom.storage.models import Mailbox, Worker, utcnow
from postroom.storage.process_locks import advisory_key, try_advisory_lock

log = logging.getLogger(__name__)

CHUNK = 500  # ids an IN list carries


def score(worker: str, mailbox_id: int) -> int:
    digest = hashlib.blake2b(f"{worker}/{mailbox_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def lock_key(worker: str) -> int:
    """The worker's advisory-lock key."""
    return advisory_key(f"postroom-worker/{worker}")


# pg_locks shows a 64-bit advisory key as two unsigned halves (classid high, objid low); the
# shift puts them back together as the signed key.
HELD_LOCKS = text(
    "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks "
    "WHERE locktype = 'advisory' AND objsubid = 1 AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def owner_of(workers: Iterable[str], mailbox_id: int) -> str:
    """Rendezvous hashing: the live worker with the highest score for the mailbox."""
    return max(workers, key=lambda worker: score(worker, mailbox_id))


@dataclass
class Beat:
    """What a heartbeat found: the mailboxes this worker owns (id → epoch), those it took from
    a dead worker (their last batch may be committed but not acknowledged), and those someone
    asked to fetch now (`next_poll_at` cleared)."""

    owned: dict[int, int] = field(default_factory=dict)
    taken_over: set[int] = field(default_factory=set)
    nudged: set[int] = field(default_factory=set)
    live: list[str] = field(default_factory=list)


class Ownership:
    def __init__(self, engine: Engine, name: str, lease: float) -> None:
        self.engine = engine
        self.name = name
        self.lease = timedelta(seconds=lease)
        self._desired: dict[int, bool] = {}  # mailbox → ours, for the live set below
        self._desired_for: tuple[str, ...] = ()
        self.locks = engine.dialect.name == "postgresql"
        self._alive: Connection | None = None  # holds this worker's advisory lock

    def beat(self, keep: Collection[int] = ()) -> Beat:
        """Heartbeat, then claim and release to match the rendezvous assignment.

        `keep`: mailboxes being fetched right now; they are released on a later beat, so a
        handover never cuts a batch in half."""
        now = utcnow()
        if self.locks:
            self._hold_lock()
        with self.engine.begin() as connection:
            renewed = connection.execute(
                update(Worker).where(Worker.name == self.name).values(heartbeat_at=now)
            )
            if renewed.rowcount == 0:
                connection.execute(
                    insert(Worker).values(name=self.name, started_at=now, heartbeat_at=now)
                )
            connection.execute(delete(Worker).where(Worker.heartbeat_at < now - self.lease))
            if self.locks:
                self._forget_unlocked(connection)
        with self.engine.begin() as connection:
            live = sorted(connection.scalars(select(Worker.name)))
            rows = connection.execute(
                select(Mailbox.id, Mailbox.lease_owner, Mailbox.next_poll_at.is_(None)).where(
                    Mailbox.receive_enabled,
                    Mailbox.incoming_server_id.is_not(None),
                    Mailbox.state != MailboxState.DISABLED.value,
                )
            ).all()
        if self.name not in live:  # deleted as dead by another worker between the two reads
            live = sorted([*live, self.name])
        ours = self._ours(live, [row[0] for row in rows])
        claim = [i for i, owner, _ in rows if ours[i] and owner != self.name and owner not in live]
        release = [i for i, owner, _ in rows if owner == self.name and not ours[i]]
        release = [i for i in release if i not in keep]
        taken = {i for i, owner, _ in rows if i in set(claim) and owner is not None}
        self._claim(claim, now)
        self._release(release)
        beat = Beat(live=live)
        with self.engine.connect() as connection:
            beat.owned = dict(
                connection.execute(
                    select(Mailbox.id, Mailbox.lease_epoch).where(Mailbox.lease_owner == self.name)
                ).all()
            )
        receiving = {row[0] for row in rows}
        beat.owned = {i: e for i, e in beat.owned.items() if i in receiving}
        beat.taken_over = taken & beat.owned.keys()
        beat.nudged = {i for i, _, unset in rows if unset and i in beat.owned}
        return beat

    def _hold_lock(self) -> None:
        """Take this worker's advisory lock before its row is written (so no one sees the row
        without the lock), and again whenever its connection was lost. The query on the held
        connection at each beat finds a lost one and keeps it from looking idle to the server
        (`idle_session_timeout`)."""
        if self._alive is not None:
            try:
                self._alive.execute(text("SELECT 1"))
                return
            except DBAPIError:
                log.info("worker %s lost its database session; locking again", self.name)
                self._drop_lock()
        # None: another session holds it (a previous connection of ours not yet gone)
        self._alive = try_advisory_lock(self.engine, lock_key(self.name))

    def _drop_lock(self) -> None:
        """Closed for good, not returned to the pool: ending the session is what unlocks."""
        if self._alive is not None:
            try:
                self._alive.invalidate()
            except Exception:
                log.debug("the advisory lock's connection was already gone", exc_info=True)
            self._alive = None

    def _forget_unlocked(self, connection: Connection) -> None:
        """Remove the rows of workers whose lock is gone: they died. The rows are read before
        the locks, and a worker takes its lock before writing its row, so a worker that is
        just starting is never taken for dead."""
        names = list(connection.scalars(select(Worker.name).where(Worker.name != self.name)))
        if not names:
            return
        held = {int(k) for k in connection.scalars(HELD_LOCKS)}
        dead = [n for n in names if lock_key(n) not in held]
        if dead:
            connection.execute(delete(Worker).where(Worker.name.in_(dead)))
            log.info("workers %s are gone (their database session ended)", ", ".join(dead))

    def _ours(self, live: list[str], ids: list[int]) -> dict[int, bool]:
        """Scores are recomputed only when the set of live workers changes."""
        if tuple(live) != self._desired_for:
            self._desired, self._desired_for = {}, tuple(live)
        for mailbox_id in ids:
            if mailbox_id not in self._desired:
                self._desired[mailbox_id] = owner_of(live, mailbox_id) == self.name
        return self._desired

    def _claim(self, ids: list[int], now: object) -> None:
        """Only from nobody or a worker whose heartbeat is stale, judged at update time: a row
        another worker claimed a moment ago is left to it."""
        live = select(Worker.name).where(Worker.heartbeat_at >= utcnow() - self.lease)
        for start in range(0, len(ids), CHUNK):
            with self.engine.begin() as connection:
                connection.execute(
                    update(Mailbox)
                    .where(Mailbox.id.in_(ids[start : start + CHUNK]))
                    .where((Mailbox.lease_owner.is_(None)) | (Mailbox.lease_owner.not_in(live)))
                    .values(lease_owner=self.name, lease_epoch=Mailbox.lease_epoch + 1)
                    .execution_options(synchronize_session=False)
                )
        if ids:
            log.info("worker %s claimed %d mailboxes", self.name, len(ids))

    def _release(self, ids: list[int]) -> None:
        for start in range(0, len(ids), CHUNK):
            with self.engine.begin() as connection:
                connection.execute(
                    update(Mailbox)
                    .where(Mailbox.id.in_(ids[start : start + CHUNK]))
                    .where(Mailbox.lease_owner == self.name)
                    .values(lease_owner=None)
                    .execution_options(synchronize_session=False)
                )
        if ids:
            log.info("worker %s handed over %d mailboxes", self.name, len(ids))

    def leave(self) -> None:
        """A clean stop: give every mailbox back and leave at once, so others take over on
        their next heartbeat instead of after the lease."""
        with self.engine.begin() as connection:
            connection.execute(
                update(Mailbox).where(Mailbox.lease_owner == self.name).values(lease_owner=None)
            )
            connection.execute(delete(Worker).where(Worker.name == self.name))
        self._drop_lock()

    def fence(self, db: Session, mailbox_id: int, epoch: int) -> None:
        """Called first in the transaction that commits a batch: the row stays locked until the
        commit (FOR UPDATE on PostgreSQL; SQLite has one writer), so a takeover either happens
        before (and this refuses) or waits until the batch is committed (and sees it)."""
        row = db.execute(
            select(Mailbox.lease_owner, Mailbox.lease_epoch)
            .where(Mailbox.id == mailbox_id)
            .with_for_update()
        ).one_or_none()
        if row is None or row[0] != self.name or row[1] != epoch:
            raise LeaseLost(
                f"Mailbox {mailbox_id} has been taken over by another worker; this worker's "
                "batch was rolled back and the new owner fetches it."
            )
