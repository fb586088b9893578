"""The data directory is its owner's alone: raw mail, password hashes and the secret key are
never readable by other local users, on a new installation and on one made before."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTROOM = str(Path(sys.executable).with_name("postroom"))


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask 022: files are made world-readable unless postroom says otherwise."""
    saved = os.umask(0o022)
    yield
    os.umask(saved)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _postroom(data_dir: Path, *args: str, stdin: str = "") -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTROOM_")}
    env["POSTROOM_DATA_DIR"] = str(data_dir)
    run = [POSTROOM, *args]
    subprocess.run(
        run, env=env, input=stdin, text=True, check=True, capture_output=True, timeout=120
    )


def _hold_open_and_check(data_dir: Path) -> None:
    """While a connection writes, SQLite's -wal and -shm files exist: they must be private too."""
    db = data_dir / "postroom.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS probe (x)")
        connection.execute("INSERT INTO probe VALUES (1)")
        connection.commit()
        for name in ("postroom.db", "postroom.db-wal", "postroom.db-shm", "secret.key"):
            assert _mode(data_dir / name) == 0o600, name
    assert _mode(data_dir) == 0o700


def test_a_new_data_directory_is_private(tmp_path: Path, open_umask: None) -> None:
    data_dir = tmp_path / "new"
    _postroom(data_dir, "db", "upgrade")
    _postroom(data_dir, "server", "add", "in", "--protocol", "imap", "--host", "127.0.0.1")
    _postroom(
        data_dir,
        "mailbox",
        "add",
        "a@example.test",
        "--incoming",
        "in",
        "--password-stdin",
        stdin="pw\n",
    )
    _hold_open_and_check(data_dir)


def test_an_existing_readable_data_directory_is_made_private(
    tmp_path: Path, open_umask: None
) -> None:
    data_dir = tmp_path / "old"
    data_dir.mkdir(mode=0o755)
    db = data_dir / "postroom.db"
    with sqlite3.connect(db) as connection:  # as an older postroom left it: 0644 and a WAL
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE leftover (x)")
        connection.commit()
        (data_dir / "secret.key").write_text("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
        for path in (data_dir, db, db.with_name("postroom.db-wal"), data_dir / "secret.key"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        _postroom(data_dir, "db", "upgrade")
        _postroom(data_dir, "workflow", "list")
    _hold_open_and_check(data_dir)
