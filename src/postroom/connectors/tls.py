"""TLS contexts and certificate facts, shared by every TCP connector and the connection test."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from cryptography import x509
from cryptography.x509.oid import NameOID


def client_context(verify: bool) -> ssl.SSLContext:
    """One context per trust configuration, shared by every connection: each context loads
    the CA store (~840 KB), so one per connection made a thousand IDLEs cost a gigabyte.
    Plain connections need none. A changed SSL_CERT_FILE/SSL_CERT_DIR is a new configuration."""
    trust = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    return _context(verify, trust)


@lru_cache(maxsize=8)
def _context(verify: bool, trust: tuple[str | None, str | None]) -> ssl.SSLContext:
    del trust  # part of the cache key only: OpenSSL reads the variables itself
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(frozen=True)
class CertificateFacts:
    subject: str
    issuer: str
    not_after: datetime
    version: str

    @property
    def expired(self) -> bool:
        return self.not_after < datetime.now(UTC)

    def describe(self) -> str:
        days = (self.not_after - datetime.now(UTC)).days
        expiry = f"expired {-days} days ago" if self.expired else f"expires in {days} days"
        return (
            f"{self.version}; certificate for {self.subject}, issued by {self.issuer}, "
            f"{expiry} ({self.not_after:%Y-%m-%d})"
        )


def _common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else name.rfc4514_string() or "(no name)"


def certificate_facts(sock: ssl.SSLSocket) -> CertificateFacts | None:
    der = sock.getpeercert(binary_form=True)
    if der is None:
        return None
    cert = x509.load_der_x509_certificate(der)
    subject = _common_name(cert.subject)
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        alt = [str(v) for v in names.get_values_for_type(x509.DNSName)]
        alt += [str(v) for v in names.get_values_for_type(x509.IPAddress)]
        if alt:
            subject = f"{subject} (also {', '.join(a for a in alt if a != subject)})".replace(
                " (also )", ""
            )
    except x509.ExtensionNotFound:
        pass
    return CertificateFacts(
        subject=subject,
        issuer=_common_name(cert.issuer),
        not_after=cert.not_valid_after_utc,
        version=sock.version() or "TLS",
    )
