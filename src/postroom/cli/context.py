"""The database for a CLI command: a SQLite file is made or upgraded on use; PostgreSQL is
checked, and upgraded only by `postroom db upgrade`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from postroom.errors import ConfigurationError
from postroom.storage import migrate
from postroom.storage.db import default_engine, unit_of_work


@contextmanager
def database() -> Iterator[Session]:
    engine = default_engine()
    current, head = migrate.revisions(engine)
    if current != head:
        if engine.dialect.name != "sqlite":  # a shared database changes only when told
            state = f"is at revision {current}" if current else "has no postroom schema yet"
            raise ConfigurationError(
                f"The database {state}; this postroom needs {head}: run `postroom db upgrade`."
            )
        migrate.upgrade(engine)  # a local SQLite file follows the code it belongs to
    with unit_of_work(engine) as db:
        yield db


def ensure_schema() -> None:
    """For commands that work through the engine rather than a session: the same upgrade."""
    with database():
        pass
