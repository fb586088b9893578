"""Tables that are queues (the outbox, webhook deliveries): rows are taken with a lease.

The SELECT finds due rows; the UPDATE takes only those still waiting, so a row another worker
took in between stays theirs. It works the same on SQLite and PostgreSQL, on any number of
machines; a lease that expires (the worker died) lets a sweeper put the row back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Select, update

from postroom.storage.models import OutboxItem, WebhookDelivery

Queue = type[OutboxItem] | type[WebhookDelivery]


def take(
    connection: Connection,
    table: Queue,
    due: Select[int],
    *,
    waiting: str | tuple[str, ...],
    taken: str,
    owner: str,
    until: datetime,
    limit: int,
) -> bool:
    """Lease up to `limit` of the rows `due` selects (oldest first) to `owner`; False when
    none was due. Read what was taken with `lease_owner == owner` in the same transaction."""
    ids = list(connection.scalars(due.order_by(table.id).limit(limit)))
    if not ids:
        return False
    states = (waiting,) if isinstance(waiting, str) else waiting
    connection.execute(
        update(table)
        .where(table.id.in_(ids), table.state.in_(states))
        .values(state=taken, lease_owner=owner, lease_until=until)
    )
    return True
