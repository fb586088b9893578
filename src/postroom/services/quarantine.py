"""One email never blocks a mailbox (DESIGN invariant 8): an email that cannot be fetched or
stored after a few tries is quarantined, held as `failed`, and the rest goes on.

With bytes (stored after a database or parser error): the raw bytes are kept as a held
`failed` message and the server is told as usual. Without (the server never gave them): a
placeholder with the server's key and the error is held, and the email stays on the server,
never deleted or moved, since postroom does not have it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from postroom.connectors.base import RemoteMessage
from postroom.storage.db import unit_of_work
from postroom.storage.models import FetchFailure, Message, utcnow

MAX_TRIES = 3


class Dropped(Exception):
    """The connection died while fetching: reconnect and go on without the culprit."""


def held_failed(mailbox_id: int, key: str, raw: bytes, error: str) -> Message:
    """A held `failed` message: the bytes that could be read (maybe none) and the error."""
    return Message(
        mailbox_id=mailbox_id,
        remote_key=key,
        sha256=hashlib.sha256(raw or key.encode()).hexdigest(),
        direction="in",
        size=len(raw),
        raw=raw,
        status="held",
        held_reason="failed",
        rule_hits=[{"rule": "quarantine", "reason": error}],
    )


class Tracker:
    """The failures of one mailbox's emails, read once a run and written as they happen."""

    def __init__(self, engine: Engine, mailbox_id: int) -> None:
        self.engine, self.mailbox_id = engine, mailbox_id
        self.tried_now: set[str] = set()  # culprits this run: not tried again until the next
        self.counted: set[str] = set()
        with unit_of_work(engine) as db:
            rows = db.execute(
                select(
                    FetchFailure.remote_key, FetchFailure.attempts, FetchFailure.quarantined_at
                ).where(FetchFailure.mailbox_id == mailbox_id)
            )
            self.attempts: dict[str, int] = {}
            self.quarantined: set[str] = set()
            for key, attempts, quarantined_at in rows:
                self.attempts[key] = attempts
                if quarantined_at is not None:
                    self.quarantined.add(key)

    def suspect(self, key: str) -> bool:
        """A key that failed before is fetched alone, so its failure is its own."""
        return key in self.attempts and key not in self.quarantined

    def failed(self, keys: Iterable[str], error: str, *, alone: bool) -> list[str]:
        """Count a try for each key; quarantine (and return) those out of tries."""
        out: list[str] = []
        with unit_of_work(self.engine) as db:
            for key in keys:
                row = db.scalar(
                    select(FetchFailure).where(
                        FetchFailure.mailbox_id == self.mailbox_id, FetchFailure.remote_key == key
                    )
                )
                if row is None:
                    row = FetchFailure(mailbox_id=self.mailbox_id, remote_key=key, attempts=0)
                    db.add(row)
                if key not in self.counted:  # one try a run: a flaky network is not the email
                    row.attempts += 1
                    self.counted.add(key)
                row.last_error = error
                self.attempts[key] = row.attempts
                if alone:
                    self.tried_now.add(key)
                if alone and row.attempts >= MAX_TRIES:
                    row.quarantined_at = utcnow()
                    db.add(held_failed(self.mailbox_id, key, b"", _placeholder(key, error)))
                    self.quarantined.add(key)
                    out.append(key)
        return out

    def stored(self, keys: Iterable[str]) -> None:
        """These were stored after all: forget their earlier failures."""
        cleared = [k for k in keys if k in self.attempts and k not in self.quarantined]
        if not cleared:
            return
        with unit_of_work(self.engine) as db:
            db.execute(
                delete(FetchFailure).where(
                    FetchFailure.mailbox_id == self.mailbox_id,
                    FetchFailure.remote_key.in_(cleared),
                )
            )
        for key in cleared:
            self.attempts.pop(key, None)


def _placeholder(key: str, error: str) -> str:
    return (
        f"Quarantined after {MAX_TRIES} tries: the server did not give this email ({key}): "
        f"{error} It stays on the server untouched."
    )


def store_raw(engine: Engine, mailbox_id: int, message: RemoteMessage, error: str) -> None:
    """Keep an email whose processing failed as held `failed`, with its raw bytes."""
    with unit_of_work(engine) as db:
        db.add(
            held_failed(
                mailbox_id,
                message.key,
                message.raw,
                f"Held after an error while storing it: {error}",
            )
        )
