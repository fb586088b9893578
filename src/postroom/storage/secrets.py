"""Secrets at rest: AES-GCM with the row's identity as associated data.

Binding the ciphertext to table, row id and column means a secret copied into another row, or
another column, fails to decrypt instead of quietly authenticating as someone else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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
    if key_file.exists():
        private_file(key_file)  # a key file made before postroom restricted it
        return _decode_key(key_file.read_text(), str(key_file))
    text = base64.urlsafe_b64encode(os.urandom(32)).decode()
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return _decode_key(key_file.read_text(), str(key_file))
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    return _decode_key(text, str(key_file))


class SecretBox:
    def __init__(self, key: bytes) -> None:
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
