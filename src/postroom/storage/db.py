"""The one place engines and sessions are made.

SQLite gets WAL (readers never block the writer), foreign keys (off by default in SQLite) and a
busy timeout, so several processes can share one file; PostgreSQL is reached with psycopg 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from postroom.config import get_settings
from postroom.errors import ConfigurationError
from postroom.storage.private_files import private_data_directory, private_sqlite_database

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str) -> str:
    """postgresql:// means psycopg 3 here; SQLAlchemy would otherwise look for psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            private_sqlite_database(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True)
    raise ConfigurationError(
        f"POSTROOM_DATABASE_URL uses {parsed.get_backend_name()!r}: postroom runs on sqlite:// "
        "or postgresql:// databases."
    )


@lru_cache(maxsize=4)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def default_engine() -> Engine:
    settings = get_settings()
    private_data_directory(
        settings.data_dir, settings.key_file, create=settings.database_url is None
    )
    return engine_for(settings.resolved_database_url)


@contextmanager
def unit_of_work(engine: Engine | None = None) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    from sqlalchemy.orm import sessionmaker  # not at import: reading() needs no ORM

    factory = sessionmaker(bind=engine or default_engine(), expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


@contextmanager
def reading(engine: Engine | None = None) -> Iterator[Connection]:
    """One read-only transaction through SQLAlchemy Core, for services/listings.py: what a
    listing needs without importing the ORM (storage/tables.py says why). Nothing is written,
    so it is rolled back when the block ends."""
    with (engine or default_engine()).connect() as connection:
        yield connection


def flushed_connection(db: Session) -> Connection:
    """The session's own transaction, for a Core read (services/listings.py): its pending
    changes are flushed first, so the read sees them as an ORM query would have."""
    db.flush()
    return db.connection()
