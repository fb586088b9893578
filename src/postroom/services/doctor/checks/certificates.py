"""Server certificates that expire within 30 days, and servers that speak TLS below 1.2:
clients, postroom among them, refuse both."""

from __future__ import annotations

from datetime import timedelta

from postroom.services.doctor.model import Finding, ServerView, Snapshot

EXPIRY_WARNING = timedelta(days=30)


def users_of(snapshot: Snapshot, server: ServerView) -> str:
    names = sorted(m.address for m in snapshot.mailboxes if server in (m.incoming, m.outgoing))
    return f" (mailboxes: {', '.join(names)})" if names else ""


class Certificates:
    name = "certificate"
    description = "Certificate expiring within 30 days, or TLS below 1.2"

    def check(self, snapshot: Snapshot) -> list[Finding]:
        found = []
        for server in snapshot.servers:
            probe = snapshot.probes.get(server.id)
            cert = probe.certificate if probe else None
            if cert is None:
                continue
            where = f"{server.host}:{server.port}{users_of(snapshot, server)}"
            if cert.not_after - snapshot.now <= EXPIRY_WARNING:
                verb = "expired" if cert.not_after <= snapshot.now else "expires"
                found.append(
                    Finding(
                        check=self.name,
                        subject=f"server {server.name}",
                        problem=f"The certificate of {where} "
                        f"{verb} {cert.not_after:%Y-%m-%d %H:%M} UTC.",
                        fix="Renew the server's certificate (its administrator, or the ACME "
                        "client that should have done it).",
                        due_at=cert.not_after,
                    )
                )
            if probe is not None and probe.old_protocol:
                found.append(
                    Finding(
                        check="tls-version",
                        subject=f"server {server.name}",
                        problem=f"{where} speaks {cert.version} only; postroom and most "
                        "clients require TLS 1.2 or later.",
                        fix="Enable TLS 1.2 or 1.3 on the server.",
                        due_at=snapshot.now,
                    )
                )
        return found
