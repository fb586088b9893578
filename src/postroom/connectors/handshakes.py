"""The opening of an IMAP, POP3 or SMTP session on a socket we already connected.

The connection test owns the socket so it can time and explain DNS, TCP and TLS one by one;
these classes then speak just enough protocol to greet, upgrade, sign in and probe. Each wraps
the stdlib client through its socket-creation hook, so no protocol is written by hand.
"""

from __future__ import annotations

import imaplib
import poplib
import smtplib
import socket
import ssl
from typing import Protocol as Interface

from postroom.connectors.pop3 import auth_xoauth2
from postroom.connectors.pop3_codes import refusal
from postroom.connectors.sasl import xoauth2
from postroom.connectors.server_words import words
from postroom.connectors.smtp import smtp_xoauth2
from postroom.domain.endpoints import Credentials
from postroom.domain.settings import Protocol
from postroom.errors import AuthFailed, MailServerError


class Handshake(Interface):
    """One protocol's session opening; every method raises MailServerError with a reason."""

    def greet(self) -> str: ...
    def capabilities(self) -> list[str]: ...
    def offers_starttls(self) -> bool: ...
    def starttls(self, context: ssl.SSLContext) -> ssl.SSLSocket: ...
    def login(self, credentials: Credentials) -> None:
        """With a password, or XOAUTH2 with an access token (credentials.bearer)."""
        ...

    def probe_envelope(self, sender: str, recipient: str) -> str: ...
    def close(self) -> None: ...


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


class _ImapOnSocket(imaplib.IMAP4):
    def __init__(self, sock: socket.socket, host: str) -> None:
        self._given = sock
        super().__init__(host, sock.getpeername()[1])

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return self._given


class ImapHandshake:
    def __init__(self, sock: socket.socket, host: str) -> None:
        self._sock, self._host = sock, host
        self._client: _ImapOnSocket | None = None

    @property
    def client(self) -> _ImapOnSocket:
        assert self._client is not None, "greet() first"
        return self._client

    def greet(self) -> str:
        try:
            self._client = _ImapOnSocket(self._sock, self._host)
        except imaplib.IMAP4.error as exc:
            raise MailServerError(f"The server's greeting is not IMAP: {words(exc)}") from exc
        return _text(self.client.welcome)

    def capabilities(self) -> list[str]:
        return sorted(self.client.capabilities)

    def offers_starttls(self) -> bool:
        return "STARTTLS" in self.client.capabilities

    def starttls(self, context: ssl.SSLContext) -> ssl.SSLSocket:
        try:
            self.client.starttls(context)
        except imaplib.IMAP4.error as exc:
            raise MailServerError(f"STARTTLS was refused: {words(exc)}") from exc
        sock = self.client.sock
        assert isinstance(sock, ssl.SSLSocket)
        return sock

    def login(self, credentials: Credentials) -> None:
        user = credentials.login
        try:
            if credentials.bearer:
                self.client.authenticate("XOAUTH2", lambda _: xoauth2(credentials).encode())
            else:
                self.client.login(user, credentials.password)
        except imaplib.IMAP4.error as exc:
            raise AuthFailed(f"The IMAP server refused the login {user!r}: {words(exc)}") from exc

    def probe_envelope(self, sender: str, recipient: str) -> str:
        raise NotImplementedError("only SMTP has an envelope")

    def close(self) -> None:
        if self._client is not None:
            try:
                if self._client.state == "AUTH":
                    self._client.logout()
                else:
                    self._client.shutdown()
            except (OSError, imaplib.IMAP4.error):
                pass


class _Pop3OnSocket(poplib.POP3):
    def __init__(self, sock: socket.socket, host: str) -> None:
        self._given = sock
        super().__init__(host, sock.getpeername()[1])

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return self._given


class Pop3Handshake:
    def __init__(self, sock: socket.socket, host: str) -> None:
        self._sock, self._host = sock, host
        self._client: _Pop3OnSocket | None = None
        self._capa: dict[str, list[str]] = {}

    @property
    def client(self) -> _Pop3OnSocket:
        assert self._client is not None, "greet() first"
        return self._client

    def greet(self) -> str:
        try:
            self._client = _Pop3OnSocket(self._sock, self._host)
        except poplib.error_proto as exc:
            raise MailServerError(f"The server's greeting is not POP3: {words(exc)}") from exc
        return _text(self.client.getwelcome())

    def capabilities(self) -> list[str]:
        try:
            self._capa = self.client.capa()
        except poplib.error_proto:
            self._capa = {}
        return sorted(self._capa)

    def offers_starttls(self) -> bool:
        return "STLS" in (self._capa or {k: [] for k in self.capabilities()})

    def starttls(self, context: ssl.SSLContext) -> ssl.SSLSocket:
        try:
            self.client.stls(context)
        except poplib.error_proto as exc:
            raise MailServerError(f"STLS was refused: {_text(exc.args[0])}") from exc
        sock = self.client.sock
        assert isinstance(sock, ssl.SSLSocket)
        return sock

    def login(self, credentials: Credentials) -> None:
        user = credentials.login
        try:
            if credentials.bearer:
                auth_xoauth2(self.client, credentials)
            else:
                self.client.user(user)
                self.client.pass_(credentials.password)
        except poplib.error_proto as exc:
            raise refusal(exc, user, bearer=credentials.bearer) from exc

    def probe_envelope(self, sender: str, recipient: str) -> str:
        raise NotImplementedError("only SMTP has an envelope")

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.quit()
            except (OSError, poplib.error_proto):
                self._client.close()


class _SmtpOnSocket(smtplib.SMTP):
    def __init__(self, sock: socket.socket, host: str, timeout: float | None) -> None:
        self._given = sock
        super().__init__(
            timeout=timeout if timeout is not None else socket.getdefaulttimeout() or 0
        )
        self._host = host

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return self._given


class SmtpHandshake:
    def __init__(self, sock: socket.socket, host: str) -> None:
        self._sock, self._host = sock, host
        self._client = _SmtpOnSocket(sock, host, sock.gettimeout())

    def greet(self) -> str:
        code, message = self._client.connect(self._host, self._sock.getpeername()[1])
        if code != 220:
            raise MailServerError(f"The server greeted with {code} {_text(message)}, not 220.")
        self._ehlo()
        return f"{code} {_text(message)}"

    def _ehlo(self) -> None:
        code, message = self._client.ehlo()
        if code != 250:
            code, message = self._client.helo()
            if code != 250:
                raise MailServerError(f"EHLO and HELO were refused: {code} {_text(message)}")

    def capabilities(self) -> list[str]:
        return sorted(k.upper() for k in self._client.esmtp_features)

    def offers_starttls(self) -> bool:
        return self._client.has_extn("starttls")

    def starttls(self, context: ssl.SSLContext) -> ssl.SSLSocket:
        try:
            self._client.starttls(context=context)
        except smtplib.SMTPResponseException as exc:
            raise MailServerError(
                f"STARTTLS was refused: {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from exc
        self._ehlo()
        sock = self._client.sock
        assert isinstance(sock, ssl.SSLSocket)
        return sock

    def login(self, credentials: Credentials) -> None:
        user = credentials.login
        if not self._client.has_extn("auth"):
            raise MailServerError(
                "The server offers no AUTH here: it may allow it only after STARTTLS "
                "(use --security starttls) or only on the submission port 587."
            )
        try:
            if credentials.bearer:
                smtp_xoauth2(self._client, credentials)
            else:
                self._client.login(user, credentials.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthFailed(
                f"The SMTP server refused the login {user!r}: "
                f"{exc.smtp_code} {_text(exc.smtp_error)}"
            ) from exc
        except smtplib.SMTPException as exc:
            raise MailServerError(f"Signing in failed: {words(exc)}") from exc

    def probe_envelope(self, sender: str, recipient: str) -> str:
        code, message = self._client.mail(sender)
        if code != 250:
            self._client.rset()
            raise MailServerError(f"MAIL FROM:<{sender}> was refused: {code} {_text(message)}")
        code, message = self._client.rcpt(recipient)
        self._client.rset()
        if code not in (250, 251):
            raise MailServerError(f"RCPT TO:<{recipient}> was refused: {code} {_text(message)}")
        return f"MAIL FROM:<{sender}> and RCPT TO:<{recipient}> accepted ({code}); nothing sent"

    def close(self) -> None:
        try:
            self._client.quit()
        except (OSError, smtplib.SMTPException):
            self._client.close()


HANDSHAKES: dict[Protocol, type[ImapHandshake] | type[Pop3Handshake] | type[SmtpHandshake]] = {
    Protocol.IMAP: ImapHandshake,
    Protocol.POP3: Pop3Handshake,
    Protocol.SMTP: SmtpHandshake,
}
