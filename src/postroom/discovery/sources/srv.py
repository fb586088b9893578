"""RFC 6186 service records, with RFC 8314's implicit-TLS names ranked first."""

from __future__ import annotations

from postroom.discovery import net
from postroom.discovery.context import DiscoveryContext
from postroom.discovery.model import Candidate, Nothing
from postroom.domain import validate
from postroom.domain.settings import LoginFormat, Protocol, Security
from postroom.errors import InvalidInput

SERVICES = (
    ("_imaps._tcp", Protocol.IMAP, Security.TLS),
    ("_imap._tcp", Protocol.IMAP, Security.STARTTLS),
    ("_pop3s._tcp", Protocol.POP3, Security.TLS),
    ("_pop3._tcp", Protocol.POP3, Security.STARTTLS),
    ("_submissions._tcp", Protocol.SMTP, Security.TLS),
    ("_submission._tcp", Protocol.SMTP, Security.STARTTLS),
)


class SrvRecords:
    name = "srv"
    description = "The domain's _imaps, _imap, _pop3s, _pop3, _submissions, _submission records"

    def lookup(self, address: str, ctx: DiscoveryContext) -> list[Candidate]:
        domain = address.rsplit("@", 1)[1]
        found: list[Candidate] = []
        for label, protocol, security in SERVICES:
            try:
                answer = net.query(ctx, f"{label}.{domain}", "SRV")
            except Nothing:
                continue
            for record in sorted(answer, key=lambda r: (r.priority, -r.weight)):
                target = record.target.to_text(omit_final_dot=True)
                if target in ("", "."):  # RFC 6186: "." means the service is not offered
                    continue
                try:
                    host, port = validate.hostname(target), validate.port(record.port)
                except InvalidInput:
                    continue
                found.append(
                    Candidate(protocol, host, port, security, LoginFormat.ADDRESS, None, self.name)
                )
        if not found:
            raise Nothing(f"no mail SRV records for {domain}")
        return found
