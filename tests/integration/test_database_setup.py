"""How postroom opens its databases: SQLite by default under the data dir, PostgreSQL by URL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from postroom.config import get_settings
from postroom.storage import migrate
from postroom.storage.db import make_engine, normalise_url
from postroom.storage.models import Base
from tests.conftest import Cli


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


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_migrations_build_exactly_the_schema_the_models_describe(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A model change without its migration (or the reverse) would only show on a user's
    database; Alembic's own comparison finds it here, on both databases."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'schema.db'}"
    else:  # a database of its own: the shared one is truncated, not rebuilt, between tests
        admin = make_engine(request.getfixturevalue("postgres_url"))
        name = f"postroom_schema_{uuid.uuid4().hex[:8]}"
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin.url.set(database=name).render_as_string(hide_password=False)
        request.addfinalizer(admin.dispose)
        request.addfinalizer(lambda: _drop(admin, name))
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "render_as_batch": kind == "sqlite"}
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def _drop(admin: Engine, name: str) -> None:
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


def test_the_cli_upgrades_an_older_sqlite_file_and_refuses_an_older_postgresql(
    postroom_env: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local SQLite file follows the code it belongs to; a shared PostgreSQL database is
    changed only by `postroom db upgrade`, and until then every command says so."""
    old = make_engine(f"sqlite:///{postroom_env / 'old.db'}")
    migrate.upgrade(old, "0002")
    monkeypatch.setenv("POSTROOM_DATABASE_URL", str(old.url))
    get_settings.cache_clear()
    assert Cli()("server", "list").code == 0
    assert migrate.revisions(old)[0] == migrate.revisions(old)[1]
    old.dispose()

    shared = make_engine(postgres_url)
    with shared.begin() as connection:  # the shared test database, back to an older schema
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    migrate.upgrade(shared, "0002")
    monkeypatch.setenv("POSTROOM_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    refused = Cli()("server", "list")
    assert refused.code == 1
    assert "is at revision 0002" in refused.stderr and "postroom db upgrade" in refused.stderr
    assert Cli()("db", "upgrade").code == 0
    assert Cli()("server", "list").code == 0
    shared.dispose()


def test_the_head_read_from_the_migration_files_is_alembics(engine: Engine) -> None:
    """The CLI's cheap revision check must agree with Alembic, or it would migrate needlessly
    or miss a migration."""
    from alembic.script import ScriptDirectory

    alembic_head = ScriptDirectory.from_config(migrate.alembic_config(engine)).get_current_head()
    assert migrate.code_head() == alembic_head
    assert migrate.revisions(engine) == (alembic_head, alembic_head)
