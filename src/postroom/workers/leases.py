"""One worker fetches a mailbox at a time, whichever machine it runs on.

A lease is a conditional UPDATE, so it works the same on SQLite and PostgreSQL; one that is not
released (the worker was killed) expires, and another worker takes the mailbox over.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, or_, update

from postroom.storage.models import Mailbox, utcnow

LEASE = timedelta(minutes=10)


def claim(engine: Engine, mailbox_id: int, owner: str) -> bool:
    now = utcnow()
    with engine.begin() as connection:
        taken = connection.execute(
            update(Mailbox)
            .where(Mailbox.id == mailbox_id)
            .where(
                or_(
                    Mailbox.lease_until.is_(None),
                    Mailbox.lease_until < now,
                    Mailbox.lease_owner == owner,
                )
            )
            .values(lease_owner=owner, lease_until=now + LEASE)
        )
        return taken.rowcount == 1


def release(engine: Engine, mailbox_id: int, owner: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(Mailbox)
            .where(Mailbox.id == mailbox_id, Mailbox.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )
