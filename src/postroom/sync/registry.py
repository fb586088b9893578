"""Which source syncs a mailbox's contacts or calendar: the one place a protocol and a kind
become a class, like connectors/registry.py for mail.

IMAP and POP3 mailboxes use CardDAV/CalDAV with the mailbox's credentials. The cloud sources
(Microsoft Graph, Google People and Calendar) plug in at CLOUD below.
"""

from __future__ import annotations

from collections.abc import Callable

from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import Protocol
from postroom.errors import InvalidInput
from postroom.sync.source import RecordKind, SyncSource

SyncKind = str  # "contacts" or "calendar", as the mailbox's switches and `--sync` say
KINDS: dict[SyncKind, RecordKind] = {"contacts": "contact", "calendar": "event"}
DAV_PROTOCOLS = (Protocol.IMAP, Protocol.POP3)


class SourceMissing(InvalidInput):
    """No source syncs this kind of record for this kind of mailbox (yet)."""

    code = "sync-source-missing"


# Merge point for the cloud sources: each entry is built from (endpoint, credentials), e.g.
#   (Protocol.GRAPH, "contacts"): postroom.sync.graph.GraphContacts,
#   (Protocol.GRAPH, "calendar"): postroom.sync.graph.GraphEvents,
#   (Protocol.GMAIL, "contacts"): postroom.sync.google.GooglePeople,
#   (Protocol.GMAIL, "calendar"): postroom.sync.google.GoogleCalendar,
# imported in small factory functions as connectors/registry.py does (httpx, authlib stay unloaded).
CLOUD: dict[tuple[Protocol, SyncKind], Callable[[Endpoint, Credentials], SyncSource]] = {}


def record_kind(kind: SyncKind) -> RecordKind:
    try:
        return KINDS[kind]
    except KeyError:
        raise InvalidInput(
            f"{kind!r} is not something postroom syncs: say contacts or calendar.", field="sync"
        ) from None


def open_source(
    endpoint: Endpoint, credentials: Credentials, kind: SyncKind, dav_url: str | None
) -> SyncSource:
    record = record_kind(kind)
    if endpoint.protocol in DAV_PROTOCOLS:
        from postroom.sync.dav import CalDavEvents, CardDavContacts
        from postroom.sync.dav_discovery import discover

        url = dav_url or discover(endpoint, credentials, record)
        if record == "contact":
            return CardDavContacts(endpoint, credentials, url)
        return CalDavEvents(endpoint, credentials, url)
    factory = CLOUD.get((endpoint.protocol, kind))
    if factory is None:
        raise SourceMissing(
            f"Syncing {kind} of a {endpoint.protocol.value} mailbox is not available in this "
            "build: only IMAP and POP3 mailboxes (CardDAV/CalDAV) sync for now."
        )
    return factory(endpoint, credentials)
