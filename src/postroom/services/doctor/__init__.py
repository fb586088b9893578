"""The doctor: what will stop working, when, and the fix, per mailbox, connection and server.

Checks (checks/, one a module) read a snapshot of the database and the servers' TLS as probed
just now; none writes. `notify` tells owners and webhooks, at most once a day a finding.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Engine

from postroom.services.actors import Actor
from postroom.services.doctor import probes, snapshot
from postroom.services.doctor.checks import CHECKS
from postroom.services.doctor.model import Finding, Snapshot
from postroom.storage.db import unit_of_work
from postroom.storage.models import utcnow


@dataclass(frozen=True)
class Report:
    snapshot: Snapshot
    findings: list[Finding]
    within_days: int

    @property
    def due(self) -> list[Finding]:
        return [f for f in self.findings if f.due_within(self.snapshot.now, self.within_days)]

    def as_dict(self) -> dict[str, Any]:
        now, days = self.snapshot.now, self.within_days
        return {
            "checked_at": now.isoformat(),
            "within_days": days,
            "due": len(self.due),
            "findings": [f.as_dict(now, days) for f in self.findings],
        }


def examine(engine: Engine, actor: Actor, within_days: int = 14, probe: bool = True) -> Report:
    """Administrators see everything; a user sees the findings of their own mailboxes."""
    with unit_of_work(engine) as db:
        taken = snapshot.take(db, utcnow())
    if probe:  # after the transaction: no database connection waits on the network
        taken = replace(taken, probes=probes.probe_all(taken.servers))
    findings = [f for check in CHECKS for f in check.check(taken)]
    if not actor.is_admin:
        findings = [f for f in findings if f.owner_id is not None and f.owner_id == actor.user_id]
    findings.sort(key=lambda f: (f.due_at, f.subject))
    return Report(taken, findings, within_days)
