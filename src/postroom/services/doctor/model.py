"""What the doctor finds: one thing that will stop working, when, and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from postroom.connectors.tls_probe import TlsProbe


@dataclass(frozen=True)
class ServerView:
    id: int
    name: str
    protocol: str
    host: str
    port: int
    security: str

    @property
    def host_lower(self) -> str:
        return self.host.strip().lower().rstrip(".")


@dataclass(frozen=True)
class MailboxView:
    """A mailbox as the checks see it: read in one short transaction, so no database
    connection waits on the network probes."""

    id: int
    address: str
    owner_id: int | None
    state: str
    last_error: str | None
    receive_enabled: bool
    send_enabled: bool
    poll_interval: int
    last_success_at: datetime | None
    created_at: datetime
    oauth_provider: str | None  # None: signs in with a password
    oauth_scopes: str
    oauth_signed_in: bool
    oauth_expires_at: datetime | None
    incoming: ServerView | None
    outgoing: ServerView | None
    connections: tuple[str, ...] = ()

    @property
    def uses_password(self) -> bool:
        return self.oauth_provider is None


@dataclass(frozen=True)
class WebhookView:
    name: str
    failed: int  # deliveries given up in the last days
    retrying: int  # deliveries still retrying after several failures
    next_deadline: datetime | None  # when the oldest retrying one is given up


@dataclass(frozen=True)
class Snapshot:
    now: datetime
    mailboxes: list[MailboxView]
    servers: list[ServerView]
    uncertain: dict[int, int]  # mailbox id -> outbox items in state uncertain
    webhooks: list[WebhookView]
    gaps: dict[int, int]  # mailbox id -> emails on the server postroom does not have
    probes: dict[int, TlsProbe] = field(default_factory=dict)  # server id -> what it showed


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str  # "mailbox desk@example.com", "server office-smtp", "webhook crm"
    problem: str
    fix: str
    due_at: datetime  # when it stops working; now or earlier: it already has
    mailbox_id: int | None = None
    owner_id: int | None = None  # who is told; None: the administrators

    @property
    def key(self) -> str:
        """Stable across runs, so a finding is told once a day, not once a run."""
        return f"{self.check}:{self.subject}"

    def due_within(self, now: datetime, days: int) -> bool:
        return self.due_at <= now + timedelta(days=days)

    def as_dict(self, now: datetime, days: int) -> dict[str, Any]:
        return {
            "key": self.key,
            "check": self.check,
            "subject": self.subject,
            "problem": self.problem,
            "fix": self.fix,
            "due_at": self.due_at.isoformat(),
            "days_left": max(0, (self.due_at - now).days),
            "due": self.due_within(now, days),
            "mailbox_id": self.mailbox_id,
        }


class Check(Protocol):
    name: str
    description: str

    def check(self, snapshot: Snapshot) -> list[Finding]: ...
