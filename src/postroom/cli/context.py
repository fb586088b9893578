"""The database for a CLI command: made on first use of a SQLite file, checked otherwise."""

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
    if not migrate.is_current(engine):
        if engine.dialect.name != "sqlite":
            raise ConfigurationError(
                "The database has no postroom schema yet: run `postroom db upgrade` first."
            )
        migrate.upgrade(engine)
    with unit_of_work(engine) as db:
        yield db
