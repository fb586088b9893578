"""Where an IMAP/POP3 account keeps its contacts and calendar when no DAV URL was given:
RFC 6764 (SRV `_carddavs._tcp`/`_caldavs._tcp`, their TXT path, then `/.well-known/`) on the
mail server's host, then on the address's domain. TLS only: a DNS answer must never downgrade
the mailbox's password to plain HTTP (the caldav library enforces this with require_tls)."""

from __future__ import annotations

from caldav.discovery import discover_service

from postroom.domain.endpoints import Credentials, Endpoint
from postroom.errors import InvalidInput

SERVICES = {"contact": "carddav", "event": "caldav"}


def discover(endpoint: Endpoint, credentials: Credentials, kind: str) -> str:
    service = SERVICES[kind]
    places = [endpoint.host]
    if "@" in credentials.login:
        places.append(credentials.login.rpartition("@")[2])
    timeout = int(endpoint.connect_timeout or 10)
    for place in dict.fromkeys(places):
        try:
            found = discover_service(
                place, service, timeout=timeout, ssl_verify_cert=endpoint.verify_tls
            )
        except Exception:  # DNS or HTTP failures mean "not here": the next place is tried
            found = None
        if found is not None:
            return str(found.url)
    raise InvalidInput(
        f"No {service.upper()} service was found for {' or '.join(places)} (RFC 6764 SRV and "
        f"/.well-known/{service}): give its URL with --dav-url.",
        field="dav_url",
    )
