"""What a server's TLS looks like from outside: certificate expiry, protocol version, and
whether STARTTLS is still offered. No credentials are sent; the handshake accepts any
certificate and old protocol versions, because the point is to report them, not to trust them."""

from __future__ import annotations

import contextlib
import socket
import ssl
import warnings
from dataclasses import dataclass

from postroom.connectors.handshakes import HANDSHAKES
from postroom.connectors.tls import CertificateFacts, certificate_facts
from postroom.domain.endpoints import Endpoint
from postroom.domain.settings import Security
from postroom.errors import MailServerError

MODERN = ("TLSv1.2", "TLSv1.3")


@dataclass(frozen=True)
class TlsProbe:
    certificate: CertificateFacts | None = None
    starttls_offered: bool | None = None  # None: not a STARTTLS endpoint
    error: str | None = None  # could not look: unreachable, refused, not TLS

    @property
    def old_protocol(self) -> bool:
        cert = self.certificate
        return cert is not None and cert.version not in MODERN


def _lenient_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Let OpenSSL speak TLS 1.0/1.1, so a server stuck there is reported, not missed.
    with warnings.catch_warnings(), contextlib.suppress(ValueError, ssl.SSLError):
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def probe(endpoint: Endpoint, timeout: float) -> TlsProbe:
    """One connection, closed before returning; every wait bounded by `timeout`."""
    if endpoint.security is Security.NONE or not endpoint.protocol.speaks_tcp:
        return TlsProbe()
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
    except OSError as exc:
        return TlsProbe(error=f"no connection to {endpoint.host}:{endpoint.port}: {exc}")
    sock.settimeout(timeout)
    context = _lenient_context()
    try:
        if endpoint.security is Security.TLS:
            with context.wrap_socket(sock, server_hostname=endpoint.host) as tls:
                return TlsProbe(certificate=certificate_facts(tls))
        handshake = HANDSHAKES[endpoint.protocol](sock, endpoint.host)
        try:
            handshake.greet()
            if not handshake.offers_starttls():
                return TlsProbe(starttls_offered=False)
            tls = handshake.starttls(context)
            return TlsProbe(certificate=certificate_facts(tls), starttls_offered=True)
        finally:
            handshake.close()
    except (OSError, ssl.SSLError, MailServerError) as exc:
        return TlsProbe(error=f"{endpoint.host}:{endpoint.port}: {exc}")
    finally:
        sock.close()
