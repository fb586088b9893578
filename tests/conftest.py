"""Fixtures shared by every test: an isolated postroom (data dir, database, key) per test, the
databases to run storage tests on, and the real mail servers on loopback."""

from __future__ import annotations

import io
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text

from postroom.config import get_settings
from postroom.storage import db as storage_db
from postroom.storage import migrate
from postroom.storage.models import Base
from postroom.storage.secrets import default_box, derived_key
from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer

POSTGRES_ADMIN_URL = os.environ.get(
    "POSTROOM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
pytest_plugins = ["tests.cloud_fixtures"]

USERS = {"desk@example.test": "desk-pass-1", "ann": "ann-pass-2"}


def _reset_caches() -> None:
    get_settings.cache_clear()
    default_box.cache_clear()
    derived_key.cache_clear()
    storage_db.engine_for.cache_clear()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of our own on the machine's PostgreSQL, dropped at the end."""
    name = f"postroom_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = storage_db.make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'postroom.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url
    _truncate(storage_db.engine_for(storage_db.normalise_url(url)))


@pytest.fixture
def postroom_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Path]:
    """An isolated postroom: its own data dir, key file and database (SQLite unless a test
    also asks for `database_url`)."""
    data_dir = tmp_path / "postroom-data"
    monkeypatch.setenv("POSTROOM_DATA_DIR", str(data_dir))
    monkeypatch.delenv("POSTROOM_SECRET_KEY", raising=False)
    if "database_url" in request.fixturenames:
        monkeypatch.setenv("POSTROOM_DATABASE_URL", request.getfixturevalue("database_url"))
    else:
        monkeypatch.delenv("POSTROOM_DATABASE_URL", raising=False)
    _reset_caches()
    migrate.upgrade()
    yield data_dir
    storage_db.default_engine().dispose()
    _reset_caches()


@pytest.fixture
def engine(postroom_env: Path) -> Engine:
    return storage_db.default_engine()


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


class Cli:
    """Runs `postroom ARGS` in this process, exactly as the console script does."""

    def __call__(self, *args: str, input: str | None = None) -> CliResult:
        from postroom.cli.main import run

        out, err = io.StringIO(), io.StringIO()
        saved = sys.argv, sys.stdin, sys.stdout, sys.stderr
        sys.argv = ["postroom", *args]
        sys.stdin, sys.stdout, sys.stderr = io.StringIO(input or ""), out, err
        try:
            run()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv, sys.stdin, sys.stdout, sys.stderr = saved
        return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli(postroom_env: Path) -> Cli:
    return Cli()


@pytest.fixture(scope="session")
def test_ca() -> TestCA:
    return TestCA()


@pytest.fixture
def trust_test_ca(test_ca: TestCA, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the test CA trusted the way an operator would: through OpenSSL's SSL_CERT_FILE."""
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca.ca_bundle_path))


@pytest.fixture(scope="session")
def dovecot(test_ca: TestCA) -> Iterator[Dovecot]:
    with Dovecot(users=USERS, ca=test_ca) as server:
        yield server


@pytest.fixture(scope="session")
def dovecot_without_tls(test_ca: TestCA) -> Iterator[Dovecot]:
    with Dovecot(users=USERS, ca=test_ca, tls=False) as server:
        yield server


@pytest.fixture(scope="session")
def smtp_server(test_ca: TestCA) -> Iterator[SmtpServer]:
    with SmtpServer(users=USERS, ca=test_ca, tls=True) as server:
        yield server


@pytest.fixture(scope="session")
def smtps_server(test_ca: TestCA) -> Iterator[SmtpServer]:
    with SmtpServer(users=USERS, ca=test_ca, implicit_tls=True) as server:
        yield server
