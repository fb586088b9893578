"""A server set up for STARTTLS that no longer offers it: postroom refuses to go on in the
clear, so the mailboxes on it stop."""

from __future__ import annotations

from postroom.services.doctor.checks.certificates import users_of
from postroom.services.doctor.model import Finding, Snapshot


class StartTls:
    name = "starttls"
    description = "STARTTLS no longer offered"

    def check(self, snapshot: Snapshot) -> list[Finding]:
        found = []
        for server in snapshot.servers:
            probe = snapshot.probes.get(server.id)
            if probe is None or probe.starttls_offered is not False:
                continue
            found.append(
                Finding(
                    check=self.name,
                    subject=f"server {server.name}",
                    problem=f"{server.host}:{server.port}{users_of(snapshot, server)} no longer "
                    "offers STARTTLS.",
                    fix="Ask the server's administrator to turn STARTTLS back on, or switch to "
                    f"its TLS port: `postroom server edit {server.name} --security tls --port N`.",
                    due_at=snapshot.now,
                )
            )
        return found
