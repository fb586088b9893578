"""The data directory holds raw mail, password hashes and the secret key: only its owner may
read it. Applied on every start, so an installation made before this rule is fixed too."""

from __future__ import annotations

import logging
import os
import stat
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")  # SQLite gives these the database file's mode


@lru_cache(maxsize=8)
def private_data_directory(path: Path, key_file: Path, *, create: bool) -> None:
    """Once a process: the directory 0700 and the key file in it 0600, however they were left."""
    if not create and not path.exists():
        return
    private_directory(path)
    if key_file.exists():
        _restrict(key_file, FILE_MODE)


def private_directory(path: Path) -> None:
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    _restrict(path, DIRECTORY_MODE)


def private_file(path: Path) -> None:
    """Create the file empty with mode 0600 when missing, else take away others' access."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        _restrict(path, FILE_MODE)


def private_sqlite_database(path: Path) -> None:
    """An empty file is an empty SQLite database; the WAL and shared-memory files SQLite makes
    later copy its mode, and those already there are restricted now."""
    if not path.parent.exists():
        private_directory(path.parent)
    private_file(path)
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            _restrict(companion, FILE_MODE)


def _restrict(path: Path, mode: int) -> None:
    try:
        if stat.S_IMODE(path.stat().st_mode) & ~mode:
            path.chmod(mode)
    except OSError as exc:  # not ours (a shared directory): say so, the owner must fix it
        log.warning("cannot make %s private (mode %o): %s", path, mode, exc)
