"""The database for a CLI command: a SQLite file is made or upgraded on use; PostgreSQL is
checked, and upgraded only by `postroom db upgrade`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

from postroom.errors import ConfigurationError
from postroom.storage import migrate
from postroom.storage.db import default_engine, reading, unit_of_work

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def _engine_at_head() -> Engine:
    engine = default_engine()
    current, head = migrate.revisions(engine)
    if current != head:
        if engine.dialect.name != "sqlite":  # a shared database changes only when told
            state = f"is at revision {current}" if current else "has no postroom schema yet"
            raise ConfigurationError(
                f"The database {state}; this postroom needs {head}: run `postroom db upgrade`."
            )
        migrate.upgrade(engine)  # a local SQLite file follows the code it belongs to
    return engine


@contextmanager
def database() -> Iterator[Session]:
    with unit_of_work(_engine_at_head()) as db:
        yield db


@contextmanager
def listing() -> Iterator[Connection]:
    """For calls that only list rows (services/listings.py): Core, no ORM, so they start fast."""
    with reading(_engine_at_head()) as db:
        yield db


def ensure_schema() -> None:
    """For commands that work through the engine rather than a session: the same upgrade."""
    with database():
        pass
