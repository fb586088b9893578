"""The one interface every mail source implements (IMAP, POP3, and later Graph and Gmail).

A connector speaks only its protocol: it lists what waits, fetches raw bytes and acts on the
server when told. It never opens a database session and never decides what a message means.
The pipeline calls `acknowledge` only after the messages and their outcome are committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from postroom.domain.settings import AfterImportKind


@dataclass(frozen=True)
class AfterImport:
    kind: AfterImportKind
    folder: str | None = None

    @classmethod
    def parse(cls, text: str) -> AfterImport:
        kind, _, folder = text.partition(":")
        return cls(AfterImportKind(kind), folder or None)


@dataclass(frozen=True)
class Cursor:
    """Where the last fetch stopped: a folder's UIDVALIDITY and the highest UID stored, or the
    provider's token for "changes since".

    It is an optimisation; the stored messages' remote keys are the truth, so a lost or stale
    cursor costs a re-listing, never a duplicate."""

    folder: str = "INBOX"
    validity: int | None = None
    last_uid: int = 0
    token: str | None = None  # a provider's own cursor: Graph's delta link, Gmail's history id


@dataclass(frozen=True)
class Listing:
    keys: list[str]  # the remote keys waiting on the server, oldest first
    cursor: Cursor  # with the folder's current validity


@dataclass(frozen=True)
class RemoteMessage:
    key: str  # unique within the mailbox, stable across sessions: the dedupe key
    raw: bytes
    arrived_at: datetime | None = None  # the server's arrival time, where it says (metrics)


class Connector(Protocol):
    def list_waiting(self, cursor: Cursor, action: AfterImport) -> Listing:
        """The keys of messages that may need importing or acknowledging, oldest first."""
        ...

    def fetch(self, keys: Sequence[str]) -> list[RemoteMessage]:
        """The raw bytes of these messages, without changing their state on the server."""
        ...

    def acknowledge(self, keys: Sequence[str], action: AfterImport) -> None:
        """Apply the after-import action; called only once the messages are committed."""
        ...

    def close(self) -> None: ...


class ApiSender(Protocol):
    """Sending through a mail API (Graph, Gmail) instead of SMTP: all recipients or none."""

    def send(self, raw: bytes, recipients: Sequence[str]) -> None:
        """Submit the MIME message; recipients not in To/Cc travel as Bcc."""
        ...

    def probe(self, folder: str) -> str:
        """One cheap authenticated call, for the connection test; says what it found."""
        ...

    def close(self) -> None: ...
