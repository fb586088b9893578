"""A throwaway certificate authority for TLS between tests and loopback servers."""

from __future__ import annotations

import atexit
import shutil
import ssl
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import trustme

__all__ = ["SERVER_HOSTS", "TestCA"]

#: Names the server certificate is valid for: clients may dial either.
SERVER_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1")


class TestCA:
    """A private CA plus one server certificate for the loopback names.

    Tests reach servers through real TLS stacks (OpenSSL in Dovecot, ``ssl`` in
    Python), so they need a CA those stacks can be told to trust. Use
    :meth:`shared` for the process-wide CA that the servers default to; build a
    fresh ``TestCA()`` when a test needs a certificate nobody trusts.
    """

    # The name starts with "Test"; stop pytest from trying to collect it.
    __test__: ClassVar[bool] = False

    _shared: ClassVar[TestCA | None] = None
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, leaf_not_after: datetime | None = None) -> None:
        self._ca = trustme.CA()
        # Issuing is the slow part (key generation), so do it once per CA.
        # leaf_not_after: a server certificate that expires soon, for the doctor's tests.
        self._leaf = self._ca.issue_cert(*SERVER_HOSTS, not_after=leaf_not_after)
        self._lock = threading.Lock()
        self._bundle: Path | None = None

    @classmethod
    def shared(cls) -> TestCA:
        """The process-wide CA, so one SSL_CERT_FILE trusts every test server."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    @property
    def cert_pem(self) -> bytes:
        """The CA certificate, for clients that take trust anchors as data."""
        pem: bytes = self._ca.cert_pem.bytes()
        return pem

    @property
    def ca_bundle_path(self) -> Path:
        """A PEM file holding only this CA, suitable for SSL_CERT_FILE.

        Written lazily into a private temp dir that is removed at interpreter exit,
        because the environment variable may outlive any single test's tmp_path.
        """
        with self._lock:
            if self._bundle is None:
                directory = Path(tempfile.mkdtemp(prefix="postroom-ca-"))
                atexit.register(shutil.rmtree, directory, True)
                bundle = directory / "ca.pem"
                bundle.write_bytes(self.cert_pem)
                bundle.chmod(0o644)
                self._bundle = bundle
            return self._bundle

    def server_cert_files(self, directory: str | Path) -> tuple[Path, Path]:
        """Write the server chain and key into *directory*; return (cert, key).

        Servers such as Dovecot read certificates from disk, and each server
        instance keeps its own copy so deleting its directory leaves no residue.
        """
        directory = Path(directory)
        cert_path = directory / "server-cert.pem"
        key_path = directory / "server-key.pem"
        cert_path.write_bytes(b"".join(blob.bytes() for blob in self._leaf.cert_chain_pems))
        key_path.write_bytes(self._leaf.private_key_pem.bytes())
        cert_path.chmod(0o644)
        key_path.chmod(0o600)
        return cert_path, key_path

    def server_ssl_context(self) -> ssl.SSLContext:
        """A server-side context presenting the loopback certificate."""
        # Not create_default_context(): loading the system CA store, which a server
        # without client certificates never uses, costs about 0.1 s per context.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._leaf.configure_cert(context)
        return context

    def client_ssl_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only this CA."""
        # Not create_default_context(): that also loads the system store, and a test
        # should not pass by accident against some publicly trusted certificate.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._ca.configure_trust(context)
        return context
