"""POP3: UIDL keys, RETR, and DELE only after the pipeline committed (the seed deletes)."""

from __future__ import annotations

import poplib
import ssl
from collections.abc import Sequence

from postroom.config import get_settings
from postroom.connectors.base import AfterImport, Cursor, Listing, RemoteMessage
from postroom.connectors.pop3_codes import login_delay, refusal
from postroom.connectors.sasl import xoauth2_b64
from postroom.connectors.server_words import words
from postroom.connectors.session_errors import mid_session
from postroom.connectors.tls import client_context
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import AfterImportKind, Security
from postroom.errors import InvalidInput, Unreachable


def pop3_key(uidl: str) -> str:
    return f"pop3:{uidl}"


class _AnyLineLength:
    """poplib refuses lines over 2,048 bytes ("line too long"), yet RFC 5322 allows a body line
    of any length and real mail has them: read lines up to the message size limit."""

    max_line = 2048

    def _getline(self) -> tuple[bytes, int]:
        line: bytes = self.file.readline(self.max_line + 1)  # type: ignore[attr-defined]
        if len(line) > self.max_line:
            raise poplib.error_proto(f"-ERR a line is longer than {self.max_line} bytes")
        if not line:  # the server hung up: a lost connection, not a refusal
            raise EOFError("the server closed the connection")
        octets = len(line)
        if line[-2:] == b"\r\n":
            return line[:-2], octets
        if line[:1] == b"\r":
            return line[1:-1], octets
        return line[:-1], octets


class LongLinePop3(_AnyLineLength, poplib.POP3):
    pass


class LongLinePop3Ssl(_AnyLineLength, poplib.POP3_SSL):
    pass


def auth_xoauth2(client: poplib.POP3, credentials: Credentials) -> None:
    """poplib has no AUTH (RFC 5034). A refused token is answered with a "+" challenge that
    carries the error; an empty line then ends the exchange with -ERR."""
    answer = client._shortcmd("AUTH XOAUTH2 " + xoauth2_b64(credentials))  # type: ignore[attr-defined]
    if not answer.startswith(b"+OK"):
        client._shortcmd("")  # type: ignore[attr-defined]
        raise poplib.error_proto(b"-ERR the access token was refused")


class Pop3Connector:
    def __init__(self, endpoint: Endpoint, credentials: Credentials) -> None:
        self.endpoint = endpoint
        self.client = self.connect(endpoint, credentials)
        self._numbers: dict[str, int] = {}
        self.login_delay = self._login_delay()

    @staticmethod
    def connect(endpoint: Endpoint, credentials: Credentials) -> poplib.POP3:
        """The one place the network client is made, so a test can hand in another."""
        context = client_context(endpoint.verify_tls)
        timeout = endpoint.connect_timeout or 60.0
        try:
            client: poplib.POP3
            if endpoint.security is Security.TLS:
                client = LongLinePop3Ssl(
                    endpoint.host, endpoint.port, timeout=timeout, context=context
                )
            else:
                client = LongLinePop3(endpoint.host, endpoint.port, timeout=timeout)
                if endpoint.security is Security.STARTTLS:
                    client.stls(context)
            client.sock.settimeout(endpoint.timeout)
        except (OSError, EOFError, ssl.SSLError, poplib.error_proto) as exc:
            raise Unreachable(f"POP3 {endpoint.host}:{endpoint.port}: {words(exc)}") from exc
        client.max_line = get_settings().max_message_size
        try:
            if credentials.bearer:
                auth_xoauth2(client, credentials)
            else:
                client.user(credentials.login)
                client.pass_(credentials.password)
        except EOFError as exc:
            client.close()
            raise Unreachable(f"POP3 {endpoint.host}:{endpoint.port}: {exc}") from exc
        except poplib.error_proto as exc:
            client.close()
            raise refusal(exc, credentials.login, bearer=credentials.bearer) from exc
        return client

    def _login_delay(self) -> int | None:
        """CAPA after sign-in gives this user's LOGIN-DELAY (RFC 2449), honoured when polling."""
        try:
            return login_delay(self.client.capa())
        except (OSError, EOFError, poplib.error_proto):
            return None

    def list_waiting(self, cursor: Cursor, action: AfterImport) -> Listing:
        if action.kind in (AfterImportKind.MARK_READ, AfterImportKind.MOVE):
            raise InvalidInput("POP3 can only delete or keep mail after import.")
        with mid_session(f"POP3 {self.endpoint.host}", refused=(poplib.error_proto,)):
            _, lines, _ = self.client.uidl()
        self._numbers = {}
        for line in lines:
            number, uidl = line.decode("ascii", "replace").split(maxsplit=1)
            self._numbers[pop3_key(uidl.strip())] = int(number)
        return Listing(list(self._numbers), cursor)

    def fetch(self, keys: Sequence[str]) -> list[RemoteMessage]:
        found = []
        with mid_session(f"POP3 {self.endpoint.host}", refused=(poplib.error_proto,)):
            for key in keys:
                _, lines, _ = self.client.retr(self._numbers[key])
                found.append(RemoteMessage(key, b"\r\n".join(lines) + b"\r\n"))
        return found

    def acknowledge(self, keys: Sequence[str], action: AfterImport) -> None:
        if action.kind is not AfterImportKind.DELETE:
            return
        with mid_session(f"POP3 {self.endpoint.host}", refused=(poplib.error_proto,)):
            for key in keys:
                self.client.dele(self._numbers[key])

    def close(self) -> None:
        """QUIT is what makes POP3 deletions happen; a dropped session deletes nothing."""
        try:
            self.client.quit()
        except (OSError, EOFError, poplib.error_proto):
            self.client.close()
