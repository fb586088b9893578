"""Common host names (imap., pop., smtp., mail.) tried without credentials: connect, TLS where
the port needs it, read the greeting, close. Nothing is ever sent, so no password can leak to
a host nobody published; every result is marked guessed."""

from __future__ import annotations

import socket
import ssl
from concurrent.futures import ThreadPoolExecutor

from postroom.discovery import net, targets
from postroom.discovery.context import DiscoveryContext
from postroom.discovery.model import Candidate, Nothing, Skipped, SourceFailed
from postroom.domain.settings import LoginFormat, Protocol, Security

PREFIXES = {
    Protocol.IMAP: ("imap", "mail"),
    Protocol.POP3: ("pop", "pop3", "mail"),
    Protocol.SMTP: ("smtp", "mail"),
}
GREETINGS = {Protocol.IMAP: b"* OK", Protocol.POP3: b"+OK", Protocol.SMTP: b"220"}
SECURITIES = (Security.TLS, Security.STARTTLS)
Attempt = tuple[Protocol, Security, str, str]  # protocol, security, host name, its address


def _addresses(ctx: DiscoveryContext, host: str) -> list[str]:
    try:
        return net.addresses(ctx, host)
    except (Nothing, SourceFailed, TimeoutError):
        return []


def _allowed(ctx: DiscoveryContext, host: str, addresses: list[str]) -> bool:
    try:
        targets.check(ctx, host, addresses)
    except Skipped:
        return False
    return True


def _first_line(sock: socket.socket) -> bytes:
    line = b""
    while b"\n" not in line and len(line) < 512:
        chunk = sock.recv(512)
        if not chunk:
            break
        line += chunk
    return line.split(b"\n", 1)[0].strip()


class Probe:
    name = "probe"
    description = "imap., pop., smtp. and mail. hosts, greeting read without signing in"

    def lookup(self, address: str, ctx: DiscoveryContext) -> list[Candidate]:
        domain = address.rsplit("@", 1)[1]
        hosts = sorted({f"{p}.{domain}" for names in PREFIXES.values() for p in names})
        with ThreadPoolExecutor(max_workers=16, thread_name_prefix="probe") as pool:
            resolved = dict(zip(hosts, pool.map(lambda h: _addresses(ctx, h), hosts), strict=True))
            skipped = [h for h, found in resolved.items() if found and not _allowed(ctx, h, found)]
            for host in skipped:
                resolved[host] = []
            attempts = [
                (protocol, security, f"{prefix}.{domain}", resolved[f"{prefix}.{domain}"][0])
                for protocol, prefixes in PREFIXES.items()
                for prefix in prefixes
                for security in SECURITIES
                if resolved[f"{prefix}.{domain}"]
            ]
            results = list(pool.map(lambda a: self._try(ctx, a), attempts))
        found = [r for r in results if r is not None]
        if not found and skipped:
            raise Skipped(f"skipped: private address ({', '.join(skipped)})")
        if not found:
            raise Nothing(f"no mail server greeted at imap., pop., smtp. or mail.{domain}")
        return found

    def _try(self, ctx: DiscoveryContext, attempt: Attempt) -> Candidate | None:
        protocol, security, host, ip = attempt
        port = ctx.probe_port(protocol, security)
        note = ""
        try:
            with socket.create_connection((ip, port), timeout=ctx.timeout) as sock:
                if security is Security.TLS:
                    try:
                        with ctx.tls_context().wrap_socket(sock, server_hostname=host) as tls:
                            greeting = _first_line(tls)
                    except ssl.SSLCertVerificationError as exc:
                        greeting = GREETINGS[protocol]  # it speaks TLS; its name is wrong
                        note = f"its TLS certificate is not valid for {host}: {exc.verify_message}"
                else:
                    greeting = _first_line(sock)
        except OSError:
            return None
        if not greeting.startswith(GREETINGS[protocol]):
            return None
        note = note or "greeted: " + greeting.decode("ascii", "replace")[:80]
        return Candidate(
            protocol,
            host,
            port,
            security,
            LoginFormat.ADDRESS,
            None,
            self.name,
            guessed=True,
            note=note,
        )
