"""IMAP and SMTP servers that accept any XOAUTH2 login and record the decoded SASL string, as
Exchange Online receives it, so a test can assert the exact bytes (for a shared mailbox:
`user=<shared>^Aauth=Bearer <delegate's token>^A^A`). After the login they serve an empty
INBOX (IMAP) or accept the mail (SMTP), enough for `fetch --once` and the outbox."""

from __future__ import annotations

import base64
import io
import socket
import threading
from dataclasses import dataclass, field

from .loopback import LoopbackServer

__all__ = ["XOAuth2Imap", "XOAuth2Smtp"]


@dataclass
class _Recorder(LoopbackServer):
    logins: list[str] = field(default_factory=list)  # decoded SASL strings, in order
    messages: list[bytes] = field(default_factory=list)  # SMTP DATA
    refuse_login: bool = False  # what Exchange says to a delegate without Full Access
    refuse_data: bytes | None = None  # the reply to the end of DATA instead of 250

    def __post_init__(self) -> None:
        self._listener = socket.create_server((self.host, 0))
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._listener.shutdown(socket.SHUT_RDWR)
        self._thread.join()
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._guarded, args=(conn,), daemon=True).start()

    def _guarded(self, conn: socket.socket) -> None:
        with conn:
            try:
                self._talk(conn, conn.makefile("rb"))
            except OSError:
                return

    def _record(self, b64: bytes) -> None:
        self.logins.append(base64.b64decode(b64.strip()).decode())

    def _talk(self, conn: socket.socket, reader: io.BufferedReader) -> None:
        raise NotImplementedError


class XOAuth2Imap(_Recorder):
    def _talk(self, conn: socket.socket, reader: io.BufferedReader) -> None:
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR] recorder ready\r\n")
        while line := reader.readline():
            tag, _, rest = line.strip().partition(b" ")
            words = rest.split(b" ")
            verb = words[0].upper()
            if verb == b"UID":
                verb = b"UID " + words[1].upper()
            if verb == b"AUTHENTICATE":
                if len(words) > 2:  # SASL-IR: the string on the command line
                    self._record(words[2])
                else:
                    conn.sendall(b"+ \r\n")
                    self._record(reader.readline())
                if self.refuse_login:
                    conn.sendall(tag + b" NO AUTHENTICATE failed.\r\n")
                    continue
                conn.sendall(tag + b" OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in\r\n")
            elif verb == b"CAPABILITY":
                conn.sendall(b"* CAPABILITY IMAP4rev1 UIDPLUS\r\n" + tag + b" OK done\r\n")
            elif verb in (b"SELECT", b"EXAMINE"):
                conn.sendall(
                    b"* 0 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] UIDs valid\r\n"
                    b"* OK [UIDNEXT 1] next\r\n* FLAGS (\\Seen \\Deleted)\r\n"
                    + tag
                    + b" OK [READ-WRITE] done\r\n"
                )
            elif verb in (b"SEARCH", b"UID SEARCH"):
                conn.sendall(b"* SEARCH\r\n" + tag + b" OK done\r\n")
            elif verb == b"LOGOUT":
                conn.sendall(b"* BYE bye\r\n" + tag + b" OK done\r\n")
                return
            else:
                conn.sendall(tag + b" OK done\r\n")


class XOAuth2Smtp(_Recorder):
    def _talk(self, conn: socket.socket, reader: io.BufferedReader) -> None:
        conn.sendall(b"220 recorder ESMTP\r\n")
        while line := reader.readline():
            verb, _, rest = line.strip().partition(b" ")
            verb = verb.upper()
            if verb == b"EHLO":
                conn.sendall(b"250-recorder\r\n250-AUTH XOAUTH2\r\n250 8BITMIME\r\n")
            elif verb == b"AUTH":
                mechanism, _, initial = rest.partition(b" ")
                if mechanism.upper() != b"XOAUTH2":
                    conn.sendall(b"504 5.5.4 only XOAUTH2 here\r\n")
                    continue
                if not initial:
                    conn.sendall(b"334 \r\n")
                    initial = reader.readline()
                self._record(initial)
                conn.sendall(b"235 2.7.0 Authentication successful\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go on\r\n")
                data = b""
                while (chunk := reader.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                if self.refuse_data is not None:
                    conn.sendall(self.refuse_data + b"\r\n")
                    continue
                self.messages.append(data)
                conn.sendall(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")
