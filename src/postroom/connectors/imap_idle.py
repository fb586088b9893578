"""An IMAP session that only watches a folder: sign in, EXAMINE, IDLE, DONE, STATUS.

asyncio streams, so one event loop holds thousands of them (the IDLE hub). It speaks just the
commands IDLE needs; fetching stays with the blocking connector (imapclient), which the fetch
threads use. It never touches the database.
"""

from __future__ import annotations

import asyncio
import base64
import re
import socket
from dataclasses import dataclass

from postroom.connectors.sasl import xoauth2
from postroom.connectors.tls import client_context
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import Security
from postroom.errors import AuthFailed, TokenRejected

LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
CODE = re.compile(rb"\[(UIDVALIDITY|UIDNEXT) (\d+)\]")
STATUS_UIDNEXT = re.compile(rb"UIDNEXT (\d+)")
CAPABILITY = re.compile(rb"\[CAPABILITY ([^\]]*)\]")


class SessionLost(Exception):
    """The connection ended or the server broke the protocol: reconnect."""


class ServerBye(SessionLost):
    """The server said BYE (shutting down, idle too long, too many connections)."""


@dataclass(frozen=True)
class Selected:
    validity: int | None
    uidnext: int | None


def keepalive(sock: socket.socket | None) -> None:
    """TCP keepalive finds a peer that vanished without a FIN (a rebooted host, a NAT that
    forgot us) in about two minutes, even while nothing is said on the connection."""
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if hasattr(socket, "TCP_KEEPIDLE"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 15)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 4)


def _quoted(text: str) -> bytes:
    return b'"' + text.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _plain(text: str) -> bool:
    return text.isascii() and all(32 <= ord(c) < 127 for c in text)


class IdleSession:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: float
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.answer = answer  # seconds the server has to answer a command
        self.tag = 0
        self.capabilities: set[bytes] = set()
        self.idle_tag: bytes | None = None

    @classmethod
    async def open(cls, endpoint: Endpoint, credentials: Credentials, answer: float) -> IdleSession:
        """Connect, secure, sign in. Raises AuthFailed/TokenRejected, SessionLost, OSError."""
        tls = endpoint.security is Security.TLS
        context = (
            client_context(endpoint.verify_tls) if endpoint.security is not Security.NONE else None
        )
        async with asyncio.timeout(endpoint.connect_timeout or 60.0):
            reader, writer = await asyncio.open_connection(
                endpoint.host,
                endpoint.port,
                ssl=context if tls else None,
                server_hostname=endpoint.host if tls else None,
            )
        keepalive(writer.get_extra_info("socket"))
        session = cls(reader, writer, answer)
        try:
            greeting = await session.line(answer)
            if greeting.startswith(b"* BYE"):
                raise ServerBye(greeting.decode(errors="replace").strip())
            if endpoint.security is Security.STARTTLS:
                await session.command(b"STARTTLS")
                assert context is not None
                async with asyncio.timeout(answer):
                    await writer.start_tls(context, server_hostname=endpoint.host)
            await session.sign_in(credentials)
        except BaseException:
            session.close()
            raise
        return session

    async def line(self, timeout: float) -> bytes:
        """One response line, literals included; SessionLost when the connection ends."""
        async with asyncio.timeout(timeout):
            data = await self.reader.readline()
            if not data.endswith(b"\n"):
                raise SessionLost("the server closed the connection")
            while (literal := LITERAL.search(data)) is not None:
                data += await self.reader.readexactly(int(literal.group(1)))
                data += await self.reader.readline()
        return data

    async def command(self, text: bytes, *literals: bytes) -> list[bytes]:
        """Send a tagged command (with synchronising literals), return the untagged lines."""
        self.tag += 1
        tag = b"p%d" % self.tag
        parts = text.split(b"\0")  # each NUL stands for the next literal
        self.writer.write(tag + b" " + parts[0])
        untagged: list[bytes] = []
        for literal, rest in zip(literals, parts[1:], strict=True):
            self.writer.write(b"{%d}\r\n" % len(literal))
            while not (reply := await self.line(self.answer)).startswith(b"+"):
                untagged.append(self._untagged(reply, tag))
            self.writer.write(literal + rest)
        self.writer.write(b"\r\n")
        while True:
            reply = await self.line(self.answer)
            if reply.startswith(tag + b" "):
                status = reply[len(tag) + 1 :]
                if status.startswith(b"OK"):
                    self._learn(status)
                    return untagged
                raise _Refused(status.decode(errors="replace").strip())
            if reply.startswith(b"+"):  # a SASL challenge: an empty answer ends the exchange
                self.writer.write(b"\r\n")
                continue
            untagged.append(self._untagged(reply, tag))

    def _untagged(self, reply: bytes, tag: bytes) -> bytes:
        if reply.startswith(b"* BYE"):
            raise ServerBye(reply.decode(errors="replace").strip())
        self._learn(reply)
        return reply

    def _learn(self, reply: bytes) -> None:
        found = CAPABILITY.search(reply)
        if found is not None:
            self.capabilities = set(found.group(1).upper().split())
        elif reply.upper().startswith(b"* CAPABILITY "):
            self.capabilities = set(reply[13:].upper().split())

    async def sign_in(self, credentials: Credentials) -> None:
        try:
            if credentials.bearer:
                token = base64.b64encode(xoauth2(credentials).encode())
                await self.command(b"AUTHENTICATE XOAUTH2 " + token)
            elif _plain(credentials.login) and _plain(credentials.password):
                await self.command(
                    b"LOGIN " + _quoted(credentials.login) + b" " + _quoted(credentials.password)
                )
            else:  # non-ASCII or control characters travel as literals
                await self.command(
                    b"LOGIN \0 \0", credentials.login.encode(), credentials.password.encode()
                )
        except _Refused as exc:
            if credentials.bearer:
                raise TokenRejected(f"The IMAP server refused the access token ({exc}).") from exc
            raise AuthFailed(f"The IMAP server refused the login {credentials.login!r}.") from exc
        if not self.capabilities:
            await self.command(b"CAPABILITY")

    @property
    def can_idle(self) -> bool:
        return b"IDLE" in self.capabilities

    async def examine(self, folder: str) -> Selected:
        return _selected(await self._folder_command(b"EXAMINE", folder))

    async def uidnext(self, folder: str) -> int | None:
        for reply in await self._folder_command(b"STATUS", folder, b" (UIDNEXT)"):
            found = STATUS_UIDNEXT.search(reply)
            if reply.startswith(b"* STATUS") and found is not None:
                return int(found.group(1))
        return None

    async def _folder_command(self, verb: bytes, folder: str, tail: bytes = b"") -> list[bytes]:
        try:
            if _plain(folder):
                return await self.command(verb + b" " + _quoted(folder) + tail)
            return await self.command(verb + b" \0" + tail, folder.encode())
        except _Refused as exc:
            raise SessionLost(f"{verb.decode()} {folder!r} refused: {exc}") from exc

    async def idle(self) -> list[bytes]:
        """Enter IDLE; returns the untagged lines that came before the continuation."""
        self.tag += 1
        self.idle_tag = b"p%d" % self.tag
        self.writer.write(self.idle_tag + b" IDLE\r\n")
        early: list[bytes] = []
        while not (reply := await self.line(self.answer)).startswith(b"+"):
            if reply.startswith(self.idle_tag + b" "):
                raise SessionLost(f"IDLE refused: {reply.decode(errors='replace').strip()}")
            early.append(self._untagged(reply, self.idle_tag))
        return early

    async def done(self) -> list[bytes]:
        """Leave IDLE; a server that never answers DONE raises TimeoutError."""
        assert self.idle_tag is not None
        self.writer.write(b"DONE\r\n")
        lines: list[bytes] = []
        while not (reply := await self.line(self.answer)).startswith(self.idle_tag + b" "):
            lines.append(self._untagged(reply, self.idle_tag))
        self.idle_tag = None
        return lines

    def close(self) -> None:
        """No LOGOUT round trip: a watcher that stops has nothing to wait for."""
        if not self.writer.is_closing():
            self.writer.close()


class _Refused(Exception):
    """A tagged NO or BAD."""


def _selected(lines: list[bytes]) -> Selected:
    found: dict[bytes, int] = {}
    for reply in lines:
        for name, value in CODE.findall(reply):
            found[name] = int(value)
    return Selected(found.get(b"UIDVALIDITY"), found.get(b"UIDNEXT"))


def announces_mail(reply: bytes) -> bool:
    """`* N EXISTS`: a message arrived (RECENT always comes with it; FETCH and EXPUNGE are
    other clients, or our own acknowledgements)."""
    parts = reply.split()
    return len(parts) >= 3 and parts[0] == b"*" and parts[2].upper() == b"EXISTS"


def is_bye(reply: bytes) -> bool:
    return reply.startswith(b"* BYE")
