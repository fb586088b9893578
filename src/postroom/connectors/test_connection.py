"""The connection test: each step timed, and a failure that says what to fix.

Resolve, connect, TLS, greeting, STARTTLS, login and (SMTP) an envelope probe run in order; the
first failure ends the report, since every later step depends on it.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from postroom.connectors.handshakes import HANDSHAKES, Handshake
from postroom.connectors.registry import open_api_sender
from postroom.connectors.tls import certificate_facts, client_context
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import Protocol, Security
from postroom.errors import AuthFailed, MailServerError, PostroomError

log = logging.getLogger(__name__)

NO_VERIFY_HINT = (
    "If this is a lab server with a self-signed certificate, add the server with "
    "--no-verify-tls; otherwise install a certificate from a trusted authority."
)


@dataclass
class Step:
    name: str
    ok: bool
    detail: str
    seconds: float
    failure: str | None = None  # "unreachable", "auth-failed", "tls", "protocol", "timeout"
    hint: str | None = None


@dataclass
class Report:
    target: str
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    @property
    def failed_step(self) -> Step | None:
        return next((s for s in self.steps if not s.ok), None)

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "ok": self.ok, "steps": [asdict(s) for s in self.steps]}


MEANINGFUL = frozenset({"try-later", "server-error", "misconfigured"})


class StepFailed(Exception):
    def __init__(self, detail: str, failure: str, hint: str | None = None) -> None:
        super().__init__(detail)
        self.failure, self.hint = failure, hint


@dataclass(frozen=True)
class Envelope:
    sender: str
    recipient: str


class ConnectionTest:
    def __init__(
        self, endpoint: Endpoint, credentials: Credentials | None, envelope: Envelope | None
    ):
        self.endpoint = endpoint
        self.credentials = credentials
        self.envelope = envelope
        self.report = Report(target=f"{endpoint.protocol.value}://{endpoint.host}:{endpoint.port}")

    @contextmanager
    def _step(self, name: str) -> Iterator[list[str]]:
        """Times the block; the block appends its detail line to the yielded list."""
        detail: list[str] = []
        started = time.perf_counter()
        try:
            yield detail
        except StepFailed as exc:
            self._add(name, False, str(exc), started, exc.failure, exc.hint)
            raise
        except TimeoutError as exc:
            timeout = self.endpoint.timeout
            self._add(
                name,
                False,
                f"No answer within {timeout:g} s during {name}." if timeout else str(exc),
                started,
                "timeout",
                self._timeout_hint(name),
            )
            raise StepFailed(str(exc), "timeout") from exc
        except AuthFailed as exc:
            self._add(name, False, str(exc), started, "auth-failed", self._auth_hint())
            raise StepFailed(str(exc), "auth-failed") from exc
        except MailServerError as exc:
            # The server answered: say what it meant (come back later, its own fault, settings).
            failure = exc.code if exc.code in MEANINGFUL else "protocol"
            self._add(name, False, str(exc), started, failure, None)
            raise StepFailed(str(exc), failure) from exc
        except (OSError, EOFError) as exc:
            message = str(exc) or type(exc).__name__
            self._add(
                name,
                False,
                f"The connection failed during {name}: {message}",
                started,
                "unreachable",
                self._timeout_hint(name),
            )
            raise StepFailed(message, "unreachable") from exc
        else:
            self._add(name, True, "; ".join(detail), started)

    def _add(
        self,
        name: str,
        ok: bool,
        detail: str,
        started: float,
        failure: str | None = None,
        hint: str | None = None,
    ) -> None:
        step = Step(name, ok, detail, round(time.perf_counter() - started, 4), failure, hint)
        self.report.steps.append(step)
        log.info("test %s %s: %s %s", self.report.target, name, "ok" if ok else "FAILED", detail)

    def _timeout_hint(self, step: str) -> str | None:
        if step == "greeting" and self.endpoint.security is not Security.TLS:
            return (
                "The port may expect TLS from the first byte: try --security tls, or check "
                "that the port belongs to this protocol."
            )
        if step == "tls":
            return (
                "The port may not speak TLS from the first byte: try --security starttls or none."
            )
        return None

    def _auth_hint(self) -> str:
        return (
            "Check the password, and the login format: the server was sent "
            f"{self.credentials.login if self.credentials else ''!r}; some servers want the full "
            "address, others only the part before @ (--login-format local-part)."
        )

    def run(self) -> Report:
        sock: socket.socket | None = None
        handshake: Handshake | None = None
        try:
            addresses = self._resolve()
            sock = self._connect(addresses)
            if self.endpoint.security is Security.TLS:
                sock = self._tls(sock, "tls")
            handshake = self._greet(sock)
            if self.endpoint.security is Security.STARTTLS:
                self._starttls(handshake)
            if self.credentials is not None:
                self._login(handshake)
            if self.envelope is not None and self.endpoint.protocol is Protocol.SMTP:
                self._envelope(handshake)
        except StepFailed:
            pass
        finally:
            if handshake is not None:
                handshake.close()
            elif sock is not None:
                sock.close()
        return self.report

    def _resolve(self) -> list[tuple[Any, ...]]:
        with self._step("resolve") as detail:
            try:
                infos = socket.getaddrinfo(
                    self.endpoint.host, self.endpoint.port, type=socket.SOCK_STREAM
                )
            except socket.gaierror as exc:
                raise StepFailed(
                    f"The host name {self.endpoint.host!r} does not resolve: {exc.strerror}.",
                    "unreachable",
                    "Check the spelling of the host, and this machine's DNS.",
                ) from exc
            detail.append(", ".join(sorted({str(i[4][0]) for i in infos})))
        return [i[4] for i in infos]

    def _connect(self, addresses: list[tuple[Any, ...]]) -> socket.socket:
        with self._step("connect") as detail:
            last: OSError | None = None
            for address in addresses:
                try:
                    sock = socket.create_connection(
                        address[:2], timeout=self.endpoint.connect_timeout
                    )
                except ConnectionRefusedError as exc:
                    last = exc
                    continue
                except TimeoutError:
                    raise StepFailed(
                        f"No TCP connection to {address[0]} port {self.endpoint.port} within "
                        f"{self.endpoint.connect_timeout:g} s.",
                        "timeout",
                        "A firewall may drop the traffic, or the host or port is wrong.",
                    ) from None
                except OSError as exc:
                    last = exc
                    continue
                sock.settimeout(self.endpoint.timeout)
                detail.append(f"connected to {address[0]} port {address[1]}")
                return sock
            if isinstance(last, ConnectionRefusedError):
                raise StepFailed(
                    f"Port {self.endpoint.port} on {self.endpoint.host} refused the connection.",
                    "unreachable",
                    f"Is the server running, and is {self.endpoint.port} its "
                    f"{self.endpoint.protocol.value} port for "
                    f"--security {self.endpoint.security.value}?",
                )
            raise StepFailed(f"Could not connect: {last}", "unreachable")
        raise AssertionError("unreachable")  # pragma: no cover

    def _tls(self, sock: socket.socket, step: str) -> ssl.SSLSocket:
        return self._secure(
            step, lambda ctx: ctx.wrap_socket(sock, server_hostname=self.endpoint.host)
        )

    def _secure(self, step: str, wrap: Callable[[ssl.SSLContext], ssl.SSLSocket]) -> ssl.SSLSocket:
        with self._step(step) as detail:
            context = client_context(self.endpoint.verify_tls)
            try:
                tls = wrap(context)
            except ssl.SSLCertVerificationError as exc:
                raise StepFailed(
                    f"The server's certificate is not trusted: {exc.verify_message}.",
                    "tls",
                    NO_VERIFY_HINT,
                ) from exc
            except ssl.SSLError as exc:
                raise StepFailed(
                    f"The TLS handshake failed: {exc.reason or exc}.",
                    "tls",
                    self._timeout_hint("tls") if step == "tls" else None,
                ) from exc
            facts = certificate_facts(tls)
            if facts is not None:
                detail.append(facts.describe())
            detail.append(
                "verified" if self.endpoint.verify_tls else "not verified (--no-verify-tls)"
            )
        return tls

    def _greet(self, sock: socket.socket) -> Handshake:
        with self._step("greeting") as detail:
            handshake: Handshake = HANDSHAKES[self.endpoint.protocol](sock, self.endpoint.host)
            detail.append(handshake.greet().strip()[:200])
            detail.append("capabilities: " + " ".join(handshake.capabilities()))
        return handshake

    def _starttls(self, handshake: Handshake) -> None:
        if not handshake.offers_starttls():
            with self._step("starttls"):
                raise StepFailed(
                    "The server does not offer STARTTLS on this port.",
                    "tls",
                    "Use --security tls with the server's TLS port, or ask its administrator to "
                    "enable STARTTLS; --security none would send the password in the clear.",
                )
        self._secure("starttls", handshake.starttls)

    def _login(self, handshake: Handshake) -> None:
        assert self.credentials is not None
        with self._step("login") as detail:
            handshake.login(self.credentials)
            detail.append(f"signed in as {self.credentials.login}")

    def _envelope(self, handshake: Handshake) -> None:
        assert self.envelope is not None
        with self._step("envelope") as detail:
            detail.append(handshake.probe_envelope(self.envelope.sender, self.envelope.recipient))


def _api_test(endpoint: Endpoint, credentials: Credentials | None) -> Report:
    """Graph and Gmail: one authenticated call with the mailbox's access token."""
    report = Report(target=f"{endpoint.protocol.value}://{endpoint.host}:{endpoint.port}")
    started = time.perf_counter()
    if credentials is None or not credentials.bearer:
        report.steps.append(
            Step(
                "sign-in",
                False,
                "Sign in with OAuth2 first: `postroom mailbox connect`.",
                0.0,
                "needs-reconnect",
            )
        )
        return report
    try:
        api = open_api_sender(endpoint, credentials)
        try:
            detail = api.probe("INBOX")
        finally:
            api.close()
    except PostroomError as exc:
        failure = "auth-failed" if isinstance(exc, AuthFailed) else "unreachable"
        report.steps.append(
            Step("api", False, str(exc), round(time.perf_counter() - started, 4), failure)
        )
        return report
    report.steps.append(Step("api", True, detail, round(time.perf_counter() - started, 4)))
    return report


def run_connection_test(
    endpoint: Endpoint, credentials: Credentials | None = None, envelope: Envelope | None = None
) -> Report:
    if not endpoint.protocol.speaks_tcp:
        return _api_test(endpoint, credentials)
    return ConnectionTest(endpoint, credentials, envelope).run()
