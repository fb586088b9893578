"""Locks held by a process that die with it: a kill -9 or a crash frees them at once, so the
next run never waits on a lock nobody holds any more.

PostgreSQL: a session advisory lock on a connection of its own; the server drops it when the
session ends, which is when the process's socket closes. SQLite: `flock` on a file under the
data directory; the kernel drops it when the process's descriptor closes. Both are
non-blocking: who finds the lock taken is told so and decides what to do.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from postroom.config import get_settings
from postroom.storage.private_files import FILE_MODE, private_directory

log = logging.getLogger(__name__)

LOCK_DIRECTORY = "locks"


def advisory_key(name: str) -> int:
    """A signed 64-bit number, as pg_advisory_lock takes it."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def try_advisory_lock(engine: Engine, key: int) -> Connection | None:
    """The connection that now holds the lock (keep it open to keep the lock), or None when
    another session holds it. The connection is the lock's own: autocommit, so no transaction
    of the caller's ever runs on it."""
    alive = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        taken = alive.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
    except Exception:
        alive.invalidate()
        raise
    if taken:
        return alive
    alive.invalidate()
    return None


def release_advisory_lock(alive: Connection, key: int) -> None:
    """Unlocked, and the connection back in the pool; if the unlock fails, the session is
    closed instead, which unlocks too."""
    try:
        alive.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        alive.close()
    except Exception:
        log.debug("unlocking failed; closing the lock's session instead", exc_info=True)
        try:
            alive.invalidate()
        except Exception:
            log.debug("the lock's connection was already gone", exc_info=True)


def lock_file(name: str) -> Path:
    """`name` is made of letters, digits and dashes by the caller."""
    directory = get_settings().data_dir / LOCK_DIRECTORY
    private_directory(directory)
    return directory / f"{name}.lock"


@contextmanager
def held(engine: Engine, name: str) -> Iterator[bool]:
    """Hold the lock `name` for the block if nobody else does: True when held, False when
    another process (or another session of this one) holds it. Never waits."""
    if engine.dialect.name == "postgresql":
        key = advisory_key(f"postroom-lock/{name}")
        alive = try_advisory_lock(engine, key)
        try:
            yield alive is not None
        finally:
            if alive is not None:
                release_advisory_lock(alive, key)
        return
    descriptor = os.open(lock_file(name), os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True  # closing the descriptor below unlocks; the file stays for the next run
    finally:
        os.close(descriptor)
