"""Secrets at rest: AES-GCM with the row's identity as associated data.

Binding the ciphertext to table, row id and column means a secret copied into another row, or
another column, fails to decrypt instead of quietly authenticating as someone else.
`cryptography` is imported by the first box made: a CLI call that decrypts nothing skips it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from postroom.config import get_settings
from postroom.errors import ConfigurationError, SecretUnreadable
from postroom.storage.private_files import private_directory, private_file

FORMAT_VERSION = b"\x01"
NONCE_BYTES = 12


def _decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode() + b"==")
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ConfigurationError(
            f"The secret key in {source} is not 32 bytes of URL-safe base64. Make one with: "
            "python -c 'import os,base64;print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"
        )
    return key


def load_or_create_key(env_value: str | None, key_file: Path) -> bytes:
    if env_value:
        return _decode_key(env_value, "POSTROOM_SECRET_KEY")
    private_directory(key_file.parent)
    if not key_file.exists():
        _create_key_file(key_file)
    private_file(key_file)  # a key file made before postroom restricted it
    return _decode_key(key_file.read_text(), str(key_file))


def _create_key_file(key_file: Path) -> None:
    """Processes starting together each write a whole key to a private temporary file, then
    link it to the key file's name: a link never replaces, so exactly one wins, and a reader
    only ever sees a complete key. The others then read the winner's."""
    text = base64.urlsafe_b64encode(os.urandom(32)).decode()
    fd, temporary = tempfile.mkstemp(prefix=".secret-", suffix=".tmp", dir=key_file.parent)
    try:
        with os.fdopen(fd, "w") as handle:  # mkstemp makes it 0600
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another made it first: all use theirs
            os.link(temporary, key_file)
    finally:
        os.unlink(temporary)


class SecretBox:
    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)

    def seal(self, plaintext: str, identity: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return (
            FORMAT_VERSION
            + nonce
            + self._aead.encrypt(nonce, plaintext.encode(), identity.encode())
        )

    def open(self, sealed: bytes, identity: str) -> str:
        if not sealed.startswith(FORMAT_VERSION):
            raise SecretUnreadable(f"The secret of {identity} is in an unknown format.")
        from cryptography.exceptions import InvalidTag

        nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, identity.encode()).decode()
        except InvalidTag:
            raise SecretUnreadable(
                f"The secret of {identity} cannot be decrypted: POSTROOM_SECRET_KEY or the key "
                "file changed since it was stored. Restore the old key, or enter the secret again."
            ) from None


@lru_cache(maxsize=1)
def default_box() -> SecretBox:
    settings = get_settings()
    return SecretBox(load_or_create_key(settings.secret_key, settings.key_file))


@lru_cache(maxsize=8)
def derived_key(purpose: str) -> bytes:
    """A key for one purpose (signing session cookies), derived from the secret key, so one
    key file serves every use and a leak of one derived key reveals neither the others nor it."""
    settings = get_settings()
    key = load_or_create_key(settings.secret_key, settings.key_file)
    return hmac.new(key, b"postroom/" + purpose.encode(), hashlib.sha256).digest()
