from __future__ import annotations

import base64
import os
import stat
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
