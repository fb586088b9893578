"""An in-process SMTP server (aiosmtpd) that records what clients send it."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import warnings
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any, TypedDict

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session, syntax

from .certs import TestCA
from .loopback import LoopbackServer

__all__ = ["Received", "SmtpOptions", "SmtpServer"]


class SmtpOptions(TypedDict, total=False):
    """SmtpServer's keyword arguments, for servers built on it that take the same ones."""

    tls: bool
    implicit_tls: bool
    auth_require_tls: bool
    auth_required: bool
    ca: TestCA | None
    hostname: str
    startup_timeout: float


@dataclass(frozen=True)
class Received:
    """One message the server accepted (it got through DATA)."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    #: The AUTH identity of the session, or None if the client never logged in.
    username: str | None
    #: Whether the session was encrypted (STARTTLS or implicit TLS).
    tls: bool = False
    mail_options: list[str] = field(default_factory=list)

    def message(self) -> EmailMessage:
        """The data parsed, for assertions on headers and body."""
        parsed = BytesParser(policy=default_policy).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


class SmtpServer(LoopbackServer):
    """A loopback SMTP server with real AUTH and TLS, running in its own thread.

    Beyond accepted messages it keeps ``envelopes``: MAIL FROM/RCPT TO sequences
    that were abandoned before DATA (RSET, a new EHLO, QUIT or a dropped
    connection). postroom's connection test probes a server exactly that way, so
    tests can check that a probe reached RCPT TO and yet delivered nothing.

    ``tls=True`` offers STARTTLS on the plain listener. ``implicit_tls=True``
    instead wraps the listener itself in TLS (SMTPS, port-465 style) and then
    offers no STARTTLS. ``auth_require_tls`` hides and refuses AUTH until
    STARTTLS; it is off by default so plain-text tests need no TLS setup.
    ``smtputf8=True`` offers SMTPUTF8 (RFC 6531), for international addresses.
    """

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        tls: bool = True,
        implicit_tls: bool = False,
        auth_require_tls: bool = False,
        auth_required: bool = False,
        smtputf8: bool = False,
        ca: TestCA | None = None,
        hostname: str = "localhost",
        startup_timeout: float = 10.0,
    ) -> None:
        self._users = dict(users or {})
        self._tls = tls
        self._implicit_tls = implicit_tls
        self._auth_require_tls = auth_require_tls
        self._auth_required = auth_required
        self._smtputf8 = smtputf8
        self._ca = ca
        self._hostname = hostname
        self._startup_timeout = startup_timeout
        self._controller: _Controller | None = None
        self._port: int | None = None
        self._condition = threading.Condition()
        self._messages: list[Received] = []
        self._envelopes: list[tuple[str, list[str]]] = []

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Listen on a free loopback port; return once the server answers."""
        if self._controller is not None:
            raise RuntimeError("SMTP server is already running")
        # addFilter ignores a filter that is already installed.
        logging.getLogger("mail.log").addFilter(_quiet_filter)
        ca = self._ca or TestCA.shared()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((self.host, 0))
            sock.listen(128)
            controller = _Controller(
                self,
                self._create_handler(),
                sock,
                ca.client_ssl_context() if self._implicit_tls else None,
                ready_timeout=self._startup_timeout,
                ssl_context=ca.server_ssl_context() if self._implicit_tls else None,
                server_hostname=self._hostname,
                tls_context=(
                    ca.server_ssl_context() if self._tls and not self._implicit_tls else None
                ),
                # aiosmtpd only recognises a STARTTLS-upgraded transport as secure, so
                # under implicit TLS its check would refuse AUTH on an encrypted channel.
                auth_require_tls=self._auth_require_tls and not self._implicit_tls,
                auth_required=self._auth_required,
                enable_SMTPUTF8=self._smtputf8,
                authenticator=self._authenticate,
            )
            controller.start()
        except BaseException:
            sock.close()
            raise
        self._controller = controller
        self._port = controller.port

    def stop(self) -> None:
        """Stop listening and drop open sessions. Records are kept. Idempotent."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    # ---------------------------------------------------------------- properties

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("SMTP server has not been started")
        return self._port

    @property
    def implicit_tls(self) -> bool:
        return self._implicit_tls

    @property
    def messages(self) -> list[Received]:
        """A snapshot; the server thread appends to the real list."""
        with self._condition:
            return list(self._messages)

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        """Snapshot of (mail_from, rcpt_tos) for envelopes abandoned before DATA."""
        with self._condition:
            return [(sender, list(rcpts)) for sender, rcpts in self._envelopes]

    def add_user(self, name: str, password: str) -> None:
        """Add a user or change a password; applies to the next AUTH."""
        with self._condition:
            self._users[name] = password

    def clear(self) -> None:
        """Forget recorded messages and envelopes, e.g. between benchmark rounds."""
        with self._condition:
            self._messages.clear()
            self._envelopes.clear()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least *n* messages arrived; return all of them.

        Clients may get their 250 reply to DATA just before the record is stored,
        so tests should wait here rather than read ``messages`` right away.
        """
        with self._condition:
            if not self._condition.wait_for(lambda: len(self._messages) >= n, timeout):
                raise TimeoutError(
                    f"expected {n} message(s) within {timeout} s, got "
                    f"{len(self._messages)}; abandoned envelopes: {self._envelopes}"
                )
            return list(self._messages)

    def wait_for_envelopes(self, n: int, timeout: float = 10.0) -> list[tuple[str, list[str]]]:
        """Block until at least *n* abandoned envelopes were recorded; return all."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self._envelopes) >= n, timeout):
                raise TimeoutError(
                    f"expected {n} abandoned envelope(s) within {timeout} s, got "
                    f"{len(self._envelopes)}; messages: {len(self._messages)}"
                )
            return [(sender, list(rcpts)) for sender, rcpts in self._envelopes]

    # ------------------------------------------------------------------ internals

    def _create_handler(self) -> _Handler:
        """The aiosmtpd hook object; subclasses may answer differently."""
        return _Handler(self)

    def _create_protocol(self, handler: _Handler, **kwargs: Any) -> SMTP:
        """The protocol object for one connection; subclasses may extend it."""
        return _RecordingSMTP(self, handler, **kwargs)

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        # aiosmtpd answers 535 for success=False, handled=False.
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        try:
            username = auth_data.login.decode()
            password = auth_data.password.decode()
        except UnicodeDecodeError:
            return AuthResult(success=False, handled=False)
        with self._condition:
            expected = self._users.get(username)
        if expected is None or expected != password:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=username)

    def _record_message(self, session: Session, envelope: Envelope) -> None:
        content = envelope.original_content
        if content is None:
            content = envelope.content if isinstance(envelope.content, bytes) else b""
        received = Received(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            data=content,
            username=session.auth_data if session.authenticated else None,
            tls=self._implicit_tls or session.ssl is not None,
            mail_options=list(envelope.mail_options),
        )
        with self._condition:
            self._messages.append(received)
            self._condition.notify_all()

    def _record_abandoned(self, envelope: Envelope | None) -> None:
        if not isinstance(envelope, _Envelope) or envelope.settled:
            return
        envelope.settled = True
        if envelope.mail_from is None:
            return
        with self._condition:
            self._envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self._condition.notify_all()


class _QuietAiosmtpd(logging.Filter):
    """Drops aiosmtpd warnings that every session here would trigger.

    aiosmtpd itself sets the deprecated ``Session.login_data`` on each AUTH, and
    AUTH without TLS is a deliberate test setup; neither says anything useful.
    """

    _NOISE = ("Session.login_data is deprecated", "auth_required == True but")

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not any(message.startswith(noise) for noise in self._NOISE)


_quiet_filter = _QuietAiosmtpd()


class _Envelope(Envelope):
    """An envelope that remembers whether it was already recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.settled = False


class _Handler:
    """aiosmtpd hook object; the names are aiosmtpd's hook protocol."""

    def __init__(self, owner: SmtpServer) -> None:
        self._owner = owner

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if isinstance(envelope, _Envelope):
            envelope.settled = True
        self._owner._record_message(session, envelope)
        return "250 2.0.0 OK: queued"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # Record before replying: once the client has its 221 it may assert at once,
        # while connection_lost would only run some time later.
        self._owner._record_abandoned(envelope)
        return "221 2.0.0 Bye"


class _RecordingSMTP(SMTP):
    """SMTP protocol that reports envelopes discarded before DATA.

    aiosmtpd has no hook that sees an envelope being thrown away (RSET and EHLO
    reset it before calling their hooks), so this overrides the point where it
    is replaced and the end of the connection.
    """

    def __init__(self, owner: SmtpServer, handler: _Handler, **kwargs: Any) -> None:
        self._owner = owner
        super().__init__(handler, **kwargs)

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:
        """RFC 4954 section 5: a server that offers AUTH accepts MAIL's AUTH= parameter,
        which a relaying submission server (Dovecot's) sends; aiosmtpd would refuse it."""
        if arg:
            arg = " ".join(p for p in arg.split(" ") if not p.upper().startswith("AUTH="))
        await super().smtp_MAIL(arg)

    def _create_envelope(self) -> Envelope:
        return _Envelope()

    def _set_post_data_state(self) -> None:
        self._owner._record_abandoned(getattr(self, "envelope", None))
        super()._set_post_data_state()  # type: ignore[no-untyped-call]  # untyped upstream

    def connection_lost(self, error: Exception | None) -> None:
        self._owner._record_abandoned(self.envelope)
        super().connection_lost(error)


class _Controller(Controller):
    """Controller serving a socket bound beforehand, with the recording protocol.

    Binding first (to port 0) means the port is known and owned before the
    server thread starts, so there is no window for another process to take it.
    """

    def __init__(
        self,
        owner: SmtpServer,
        handler: _Handler,
        sock: socket.socket,
        client_context: ssl.SSLContext | None,
        **kwargs: Any,
    ) -> None:
        self._owner = owner
        self._sock = sock
        self._client_context = client_context
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **kwargs)

    def _trigger_server(self) -> None:
        """Make the first connection that lets aiosmtpd build its protocol object.

        Replaces aiosmtpd's version, whose ssl.create_default_context() loads the
        system CA store (about 0.2 s). This one trusts the test CA only, so it also
        proves the certificate setup.
        """
        with socket.create_connection((self.hostname, self.port), timeout=1.0) as raw:
            if self._client_context is None:
                raw.recv(1024)
            else:
                with self._client_context.wrap_socket(raw, server_hostname=self.hostname) as tls:
                    tls.recv(1024)

    def _create_server(self) -> Coroutine[Any, Any, asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)

    def factory(self) -> SMTP:
        with warnings.catch_warnings():
            # auth_required without auth_require_tls is deliberate in tests.
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return self._owner._create_protocol(self.handler, **self.SMTP_kwargs)
