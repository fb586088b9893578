"""Authenticated IMAP sessions kept a few seconds after a fetch, so the next fetch of the same
mailbox (mail rarely comes alone: a burst, a reply thread) skips connect, TLS and sign-in.

A kept session holds its slot of the server's connection cap; it is checked with NOOP before
reuse and closed when it has not been used for `keep` seconds, so an idle worker holds only its
IDLE connections.
"""

from __future__ import annotations

import contextlib
import imaplib
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass

from imapclient.exceptions import IMAPClientError

from postroom.connectors.base import Connector
from postroom.connectors.imap import ImapConnector
from postroom.connectors.registry import open_receiver
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.errors import PostroomError
from postroom.workers.slots import Slots

KEEP = 10.0


@dataclass
class _Kept:
    connector: ImapConnector
    endpoint: Endpoint
    credentials: Credentials
    slot: Hashable
    until: float


class Sessions:
    def __init__(self, slots: Slots, keep: float = KEEP) -> None:
        self.slots = slots
        self.keep = keep
        self.kept: dict[int, _Kept] = {}
        self.lock = threading.Lock()
        self.reused = 0  # fetches that skipped sign-in (tests and metrics read it)

    def lease(self, mailbox_id: int, slot: Hashable, limit: int) -> Lease | None:
        """A connection slot for one fetch, with the kept session if there is one; None when
        the cap is reached."""
        with self.lock:
            kept = self.kept.pop(mailbox_id, None)
        if kept is None and not self.slots.take(slot, limit):
            return None
        return Lease(self, mailbox_id, slot, kept)

    def sweep(self) -> None:
        now = time.monotonic()
        with self.lock:
            expired = [i for i, k in self.kept.items() if k.until <= now]
            gone = [self.kept.pop(i) for i in expired]
        for kept in gone:
            self._close(kept.connector)
            self.slots.give(kept.slot)

    def close_all(self) -> None:
        with self.lock:
            gone = list(self.kept.values())
            self.kept.clear()
        for kept in gone:
            self._close(kept.connector)
            self.slots.give(kept.slot)

    def count(self) -> int:
        with self.lock:
            return len(self.kept)

    @staticmethod
    def _close(connector: Connector) -> None:
        with contextlib.suppress(PostroomError, OSError):
            connector.close()


class Lease:
    """fetching.Receivers for one fetch of one mailbox."""

    def __init__(
        self, sessions: Sessions, mailbox_id: int, slot: Hashable, kept: _Kept | None
    ) -> None:
        self.sessions = sessions
        self.mailbox_id = mailbox_id
        self.slot = slot
        self.kept = kept
        self.keeping: _Kept | None = None

    def open(self, endpoint: Endpoint, credentials: Credentials) -> Connector:
        kept, self.kept = self.kept, None
        if kept is not None:
            if kept.endpoint == endpoint and kept.credentials == credentials and _alive(kept):
                self.sessions.reused += 1
                self.keeping = kept
                return kept.connector
            Sessions._close(kept.connector)
        connector = open_receiver(endpoint, credentials)
        if isinstance(connector, ImapConnector):
            self.keeping = _Kept(connector, endpoint, credentials, self.slot, 0.0)
        return connector

    def done(self, connector: Connector, reusable: bool) -> None:
        if reusable and self.keeping is not None and self.keeping.connector is connector:
            return  # kept by release()
        self.keeping = None
        connector.close()

    def release(self) -> None:
        """After the fetch: keep the session for the next one, or give the slot back."""
        if self.kept is not None:  # never opened (the fetch failed before connecting)
            self.keeping, self.kept = self.kept, None
        keeping = self.keeping
        if keeping is None:
            self.sessions.slots.give(self.slot)
            return
        keeping.until = time.monotonic() + self.sessions.keep
        with self.sessions.lock:
            self.sessions.kept[self.mailbox_id] = keeping


def _alive(kept: _Kept) -> bool:
    try:
        kept.connector.client.noop()
    except (OSError, IMAPClientError, imaplib.IMAP4.abort, imaplib.IMAP4.error):
        return False
    return True
