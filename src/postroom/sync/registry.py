"""Which source syncs a mailbox's contacts or calendar: the one place a protocol and a kind
become a class, like connectors/registry.py for mail.

IMAP and POP3 mailboxes use CardDAV/CalDAV with the mailbox's credentials; Graph and Gmail
mailboxes their provider's own APIs (Graph contacts and calendarView, Google People and
Calendar) with the mailbox's token.
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


def _graph_contacts(endpoint: Endpoint, credentials: Credentials) -> SyncSource:
    from postroom.sync.graph import GraphContacts

    return GraphContacts(endpoint, credentials)


def _graph_events(endpoint: Endpoint, credentials: Credentials) -> SyncSource:
    from postroom.sync.graph import GraphEvents

    return GraphEvents(endpoint, credentials)


def _google_people(endpoint: Endpoint, credentials: Credentials) -> SyncSource:
    from postroom.sync.google import GooglePeople

    return GooglePeople(endpoint, credentials)


def _google_calendar(endpoint: Endpoint, credentials: Credentials) -> SyncSource:
    from postroom.sync.google import GoogleCalendar

    return GoogleCalendar(endpoint, credentials)


# Imported when opened, as connectors/registry.py does: httpx stays unloaded for DAV-only runs.
CLOUD: dict[tuple[Protocol, SyncKind], Callable[[Endpoint, Credentials], SyncSource]] = {
    (Protocol.GRAPH, "contacts"): _graph_contacts,
    (Protocol.GRAPH, "calendar"): _graph_events,
    (Protocol.GMAIL, "contacts"): _google_people,
    (Protocol.GMAIL, "calendar"): _google_calendar,
}


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
            f"Syncing {kind} of a {endpoint.protocol.value} mailbox is not available: IMAP and "
            "POP3 mailboxes sync through CardDAV/CalDAV, Graph and Gmail ones through their APIs."
        )
    return factory(endpoint, credentials)
