"""The one interface every contacts or calendar service implements (Graph, Google, CardDAV, CalDAV).

Like a mail connector, a source speaks only its protocol: it pages through what changed since a
cursor and writes records when told. It never opens a database session. The service that runs a
sync commits the records together with the new cursor, so a crash at any point repeats a page
(deduplicated by remote id) and never loses one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from postroom.errors import Conflict, PostroomError

RecordKind = Literal["contact", "event"]


@dataclass(frozen=True)
class ContactData:
    email: str
    name: str = ""
    company: str = ""
    phone: str = ""


@dataclass(frozen=True)
class EventData:
    """An activity: a follow-up or a meeting, with a link back to the request it came from."""

    title: str
    start: datetime  # timezone-aware, UTC
    end: datetime
    attendees: tuple[str, ...] = ()
    body: str = ""
    link: str = ""


RecordData = ContactData | EventData


@dataclass(frozen=True)
class RemoteRecord:
    remote_id: str  # stable on the account: Graph's id, Google's resourceName/event id, a DAV href
    etag: str  # the version the account holds: an ETag, Graph's changeKey, Google's etag
    data: RecordData | None  # None: the record was deleted on the account


@dataclass(frozen=True)
class Changes:
    """One page of changes since a cursor."""

    records: list[RemoteRecord]
    cursor: str | None  # where the next call starts: a delta link, a sync token, a page token
    more: bool  # another page follows at once; the sync is complete when this is False
    full: bool = False  # a full listing (first sync or after a reset): what it lacks was deleted
    # The start times a full listing covers, when it lists only a window of them (Graph's
    # calendarView): only records starting inside it can be missing because they were deleted.
    window: tuple[datetime, datetime] | None = None


class CursorExpired(PostroomError):
    """The account no longer knows the cursor (Google's 410, Graph's syncStateNotFound, a DAV
    sync-token the server dropped): the sync starts over with a full listing, deduplicated."""


class EditConflict(Conflict):
    """The account holds a newer version than the one the edit was based on. The caller keeps
    both: the account's version wins on the record, the losing edit goes to its history."""

    def __init__(self, message: str, current: RemoteRecord) -> None:
        super().__init__(message)
        self.current = current


class SyncSource(Protocol):
    kind: RecordKind

    def changes(self, cursor: str | None) -> Changes:
        """One page of records changed since `cursor` (None: everything, `full=True`).

        Raises CursorExpired when the account dropped the cursor."""
        ...

    def create(self, data: RecordData) -> RemoteRecord:
        """Write a new record to the account; returns its remote id and etag."""
        ...

    def update(self, remote_id: str, etag: str, data: RecordData) -> RemoteRecord:
        """Write a change made in postroom, only if the account still holds `etag`.

        Raises EditConflict, carrying the account's version, when it does not."""
        ...

    def delete(self, remote_id: str, etag: str) -> None: ...

    def close(self) -> None: ...
