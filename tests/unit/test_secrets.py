from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from postroom.errors import ConfigurationError, SecretUnreadable
from postroom.storage.secrets import SecretBox, load_or_create_key


def test_a_sealed_secret_opens_only_for_the_row_and_column_it_was_sealed_for() -> None:
    box = SecretBox(os.urandom(32))
    sealed = box.seal("hunter2-password", "mailboxes/7/password")
    assert b"hunter2" not in sealed
    assert box.open(sealed, "mailboxes/7/password") == "hunter2-password"
    with pytest.raises(SecretUnreadable, match="cannot be decrypted"):
        box.open(sealed, "mailboxes/8/password")
    with pytest.raises(SecretUnreadable):
        box.open(sealed, "oauth_apps/7/client_secret")


def test_sealing_twice_gives_different_ciphertexts() -> None:
    box = SecretBox(os.urandom(32))
    assert box.seal("same", "t/1/c") != box.seal("same", "t/1/c")


def test_a_different_key_cannot_open_a_secret_and_says_what_to_do() -> None:
    sealed = SecretBox(os.urandom(32)).seal("s3cret", "t/1/c")
    with pytest.raises(SecretUnreadable, match="Restore the old key"):
        SecretBox(os.urandom(32)).open(sealed, "t/1/c")


def test_the_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    key_file = tmp_path / "data" / "secret.key"
    first = load_or_create_key(None, key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_or_create_key(None, key_file) == first
    assert len(first) == 32


def test_the_environment_key_wins_over_the_key_file(tmp_path: Path) -> None:
    key = os.urandom(32)
    text = base64.urlsafe_b64encode(key).decode()
    assert load_or_create_key(text, tmp_path / "secret.key") == key
    assert not (tmp_path / "secret.key").exists()


@pytest.mark.parametrize("bad", ["short", base64.urlsafe_b64encode(b"x" * 16).decode()])
def test_a_malformed_environment_key_is_refused_with_how_to_make_one(
    bad: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match=r"POSTROOM_SECRET_KEY.*Make one with"):
        load_or_create_key(bad, tmp_path / "secret.key")


CREATE_KEY = """
import base64, sys
from pathlib import Path
from postroom.storage.secrets import load_or_create_key
sys.stdin.readline()  # wait for the go: every creator starts together
print(base64.b64encode(load_or_create_key(None, Path(sys.argv[1]))).decode())
"""


def _first_use_at_once(key_file: Path, threads: int, processes: int) -> set[bytes]:
    """Threads and processes that all find no key file and make it at the same instant."""
    go = threading.Barrier(threads + 1)
    keys: list[bytes] = []
    errors: list[BaseException] = []

    def create() -> None:
        go.wait()
        try:
            keys.append(load_or_create_key(None, key_file))
        except BaseException as exc:  # the test reports every failure
            errors.append(exc)

    children = [
        subprocess.Popen(
            [sys.executable, "-c", CREATE_KEY, str(key_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    workers = [threading.Thread(target=create) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    go.wait()
    for worker in workers:
        worker.join()
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        keys.append(base64.b64decode(out.strip()))
    assert errors == []
    return set(keys)


def test_creators_at_first_use_all_end_with_the_one_key_on_disk(tmp_path: Path) -> None:
    for round_ in range(12):
        key_file = tmp_path / str(round_) / "secret.key"
        keys = _first_use_at_once(key_file, threads=16, processes=3 if round_ < 3 else 0)
        assert keys == {load_or_create_key(None, key_file)}, round_
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert os.listdir(key_file.parent) == ["secret.key"]  # no temporary file left
