"""IMAP with imapclient: BODY.PEEK[] in chunks, UIDVALIDITY-aware keys, MOVE where offered."""

from __future__ import annotations

import imaplib
import ssl
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import DELETED, SEEN, SocketTimeout

from postroom.connectors import imap_folders, trace
from postroom.connectors.base import AfterImport, Cursor, Listing, RemoteMessage
from postroom.connectors.server_words import words
from postroom.connectors.session_errors import mid_session
from postroom.connectors.tls import client_context
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import AfterImportKind, Security
from postroom.errors import AuthFailed, TokenRejected, Unreachable

trace.install()  # before any IMAP client exists: its trace would carry raw mail

FETCH_CHUNK = 500  # imapclient refuses "1:*"; Dovecot's command line limit is 64 KB


def imap_key(folder: str, validity: int, uid: int) -> str:
    return f"imap:{folder}:{validity}:{uid}"


def _arrival(value: object) -> datetime | None:
    """INTERNALDATE, when the server put the message in the folder; imapclient gives it
    naive in local time unless normalisation is off, so an aware value is kept as it is."""
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.astimezone()


def uid_of(key: str) -> int:
    return int(key.rsplit(":", 1)[1])


class ImapConnector:
    def __init__(self, endpoint: Endpoint, credentials: Credentials) -> None:
        self.endpoint = endpoint
        self.client = self.connect(endpoint, credentials)
        self.folder: str | None = None
        self.validity: int | None = None
        self._folders: dict[str, str] = {}  # a user's folder name -> the server's

    @staticmethod
    def connect(endpoint: Endpoint, credentials: Credentials) -> IMAPClient:
        """The one place the network client is made, so a test can hand in another."""
        context = client_context(endpoint.verify_tls)
        timeout = SocketTimeout(connect=endpoint.connect_timeout, read=endpoint.timeout)
        try:
            client = IMAPClient(
                endpoint.host,
                port=endpoint.port,
                ssl=endpoint.security is Security.TLS,
                ssl_context=context,
                timeout=timeout,
            )
            if endpoint.security is Security.STARTTLS:
                client.starttls(context)
            if credentials.bearer:
                client.oauth2_login(credentials.login, credentials.password)
            else:
                client.login(credentials.login, credentials.password)
        except LoginError as exc:
            if credentials.bearer:
                raise TokenRejected(
                    f"The IMAP server refused the access token of {credentials.login!r}: "
                    f"{words(exc)}"
                ) from exc
            raise AuthFailed(
                f"The IMAP server refused the login {credentials.login!r}: {words(exc)}"
            ) from exc
        except (OSError, ssl.SSLError, IMAPClientError, imaplib.IMAP4.abort) as exc:
            raise Unreachable(f"IMAP {endpoint.host}:{endpoint.port}: {words(exc)}") from exc
        return client

    def _session(self) -> AbstractContextManager[None]:
        return mid_session(
            f"IMAP {self.endpoint.host}",
            refused=(IMAPClientError, imaplib.IMAP4.error),
            lost=(imaplib.IMAP4.abort,),
        )

    def _select(self, folder: str) -> int:
        info = self.client.select_folder(folder)
        self.folder, self.validity = folder, int(info[b"UIDVALIDITY"])
        return self.validity

    def list_waiting(self, cursor: Cursor, action: AfterImport) -> Listing:
        with self._session():
            validity = self._select(cursor.folder)
            last = cursor.last_uid if cursor.validity == validity else 0
            if action.kind is AfterImportKind.KEEP:
                criteria: list[object] = ["UID", f"{last + 1}:*"]
            elif action.kind is AfterImportKind.MARK_READ:
                criteria = ["UNSEEN"]
            else:  # delete or move: whatever is still in the folder waits for us
                criteria = ["ALL"]
            uids = sorted(int(u) for u in self.client.search(criteria))
            if action.kind is AfterImportKind.KEEP:
                uids = [u for u in uids if u > last]  # "N:*" always returns the highest UID
            keys = [imap_key(cursor.folder, validity, u) for u in uids]
        return Listing(keys, Cursor(cursor.folder, validity, last))

    def fetch(self, keys: Sequence[str]) -> list[RemoteMessage]:
        if not keys:
            return []
        prefix = keys[0].rsplit(":", 1)[0]
        found: list[RemoteMessage] = []
        with self._session():
            for start in range(0, len(keys), FETCH_CHUNK):
                uids = [uid_of(k) for k in keys[start : start + FETCH_CHUNK]]
                response = self.client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE"])
                for uid in uids:
                    data = response.get(uid)
                    if data is not None and b"BODY[]" in data:
                        found.append(
                            RemoteMessage(
                                f"{prefix}:{uid}",
                                bytes(data[b"BODY[]"]),
                                _arrival(data.get(b"INTERNALDATE")),
                            )
                        )
        return found

    def folder_status(self, folder: str) -> dict[str, int]:
        """What the server itself counts (STATUS MESSAGES UIDNEXT), for the gap check."""
        with self._session():
            status = self.client.folder_status(folder, [b"MESSAGES", b"UIDNEXT"])
        return {"messages": int(status[b"MESSAGES"]), "uidnext": int(status[b"UIDNEXT"])}

    def arrivals(self, keys: Sequence[str]) -> dict[str, datetime | None]:
        """INTERNALDATE of each key still in the selected folder (no bodies are read)."""
        found: dict[str, datetime | None] = {}
        if not keys:
            return found
        prefix = keys[0].rsplit(":", 1)[0]
        with self._session():
            for start in range(0, len(keys), FETCH_CHUNK):
                uids = [uid_of(k) for k in keys[start : start + FETCH_CHUNK]]
                for uid, data in self.client.fetch(uids, ["INTERNALDATE"]).items():
                    found[f"{prefix}:{uid}"] = _arrival(data.get(b"INTERNALDATE"))
        return found

    def acknowledge(self, keys: Sequence[str], action: AfterImport) -> None:
        if not keys or action.kind is AfterImportKind.KEEP:
            return
        uids = [uid_of(k) for k in keys]
        with self._session():
            for start in range(0, len(uids), FETCH_CHUNK):
                chunk = uids[start : start + FETCH_CHUNK]
                if action.kind is AfterImportKind.MARK_READ:
                    self.client.add_flags(chunk, [SEEN], silent=True)
                elif action.kind is AfterImportKind.DELETE:
                    self._delete(chunk)
                elif action.kind is AfterImportKind.MOVE:
                    assert action.folder
                    self._move(chunk, action.folder)

    def _delete(self, uids: list[int]) -> None:
        self.client.add_flags(uids, [DELETED], silent=True)
        if self.client.has_capability("UIDPLUS"):
            self.client.uid_expunge(uids)
        else:
            self.client.expunge()

    def _move(self, uids: list[int], wanted: str) -> None:
        folder = self._folders.get(wanted)
        if folder is None:
            folder = imap_folders.ensure(
                self.client,
                wanted,
                "the after-import move",
                "Make it on the server, or choose another with "
                "`postroom mailbox edit ADDRESS --after-import move:FOLDER`.",
            )
            self._folders[wanted] = folder
        if self.client.has_capability("MOVE"):
            self.client.move(uids, folder)
        else:
            self.client.copy(uids, folder)
            self._delete(uids)

    def append_once(self, folder: str, message_id: str, raw: bytes, when: datetime) -> bool:
        """Put a copy of a sent email into `folder` unless one with its Message-ID is there.

        The search makes a repeat harmless: a worker that died after APPEND and before its
        commit finds the copy on its next try instead of adding a second. False: it was there.
        """
        with self._session():
            folder = imap_folders.ensure(
                self.client,
                folder,
                "copies of sent mail",
                "Make it on the server, or choose another with "
                '`postroom mailbox edit ADDRESS --sent-folder FOLDER` ("" turns copies off).',
            )
            self.client.select_folder(folder)
            if self.client.search(["HEADER", "Message-ID", message_id]):
                return False
            self.client.append(folder, raw, flags=[SEEN], msg_time=when)
            return True

    def close(self) -> None:
        try:
            self.client.logout()
        except (OSError, IMAPClientError, imaplib.IMAP4.abort):
            self.client.shutdown()
