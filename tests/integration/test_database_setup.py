"""How postroom opens its databases: SQLite by default under the data dir, PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, inspect, text

from postroom.storage import migrate
from postroom.storage.db import make_engine, normalise_url


def test_the_default_database_is_sqlite_in_wal_mode_with_foreign_keys_under_the_data_dir(
    engine: Engine, postroom_env: Path
) -> None:
    assert engine.url.database == str((postroom_env / "postroom.db").resolve())
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_a_postgresql_url_uses_psycopg_3() -> None:
    assert normalise_url("postgresql://u@h/db").startswith("postgresql+psycopg://")


def test_migrations_create_every_table_on_postgresql(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        migrate.upgrade(engine)  # a second upgrade is a no-op
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {
        "users",
        "servers",
        "oauth_apps",
        "mailboxes",
        "workflows",
        "workflow_steps",
        "requests",
        "messages",
        "audit_log",
        "alembic_version",
    } <= tables
