"""The ORM classes. Those the read-only CLI calls list are mapped onto Core tables in
`tables.py` (why, there); the rest are declared here. Enums are stored as their text values so
the database reads like the vocabulary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from postroom.domain.settings import workflow_status
from postroom.storage import tables
from postroom.storage.tables import utcnow as utcnow


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; postroom writes them in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = tables.metadata
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)

    def secret_identity(self, column: str) -> str:
        """Associated data for a sealed column: the row's table, id and column."""
        table = self.__table__
        assert isinstance(table, Table)
        return f"{table.name}/{self.id}/{column}"


class User(Base):
    __table__ = tables.users

    email: Mapped[str]
    display_name: Mapped[str]
    is_admin: Mapped[bool]
    password_hash: Mapped[str | None]
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    must_change_password: Mapped[bool]


class Server(Base):
    __table__ = tables.servers

    name: Mapped[str]
    protocol: Mapped[str]
    host: Mapped[str]
    port: Mapped[int]
    security: Mapped[str]
    connect_timeout: Mapped[float | None]
    timeout: Mapped[float | None]
    login_format: Mapped[str]
    verify_tls: Mapped[bool]
    provider_domains: Mapped[list[Any]]
    max_connections: Mapped[int]
    send_rate: Mapped[int | None]
    send_rate_seconds: Mapped[int | None]
    recipients_per_day: Mapped[int | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OAuthApp(Base):
    __table__ = tables.oauth_apps

    name: Mapped[str]
    provider: Mapped[str]
    tenant: Mapped[str | None]
    client_id: Mapped[str]
    client_secret: Mapped[bytes | None]
    authorize_url: Mapped[str | None]
    token_url: Mapped[str | None]
    scopes: Mapped[str]
    created_at: Mapped[datetime]


class Workflow(Base):
    __table__ = tables.workflows

    name: Mapped[str]
    active: Mapped[bool]
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    acknowledgement_subject: Mapped[str | None]
    acknowledgement_body: Mapped[str | None]
    thread_same_domain: Mapped[bool]
    steps: Mapped[list[WorkflowStep]] = relationship(
        order_by="WorkflowStep.position", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def status(self) -> str:
        return workflow_status(self.active, self.deleted_at)


class WorkflowStep(Base):
    __table__ = tables.workflow_steps

    workflow_id: Mapped[int]
    position: Mapped[int]
    name: Mapped[str]


class Mailbox(Base):
    __table__ = tables.mailboxes

    address: Mapped[str]
    display_name: Mapped[str]
    owner_id: Mapped[int | None]
    is_default: Mapped[bool]
    incoming_server_id: Mapped[int | None]
    outgoing_server_id: Mapped[int | None]
    receive_enabled: Mapped[bool]
    send_enabled: Mapped[bool]
    username: Mapped[str | None]
    login_format: Mapped[str | None]
    password: Mapped[bytes | None]
    oauth_app_id: Mapped[int | None]
    oauth_tokens: Mapped[bytes | None]
    oauth_account: Mapped[str | None]
    oauth_expires_at: Mapped[datetime | None]
    oauth_refresh_lease: Mapped[datetime | None]
    access: Mapped[str]
    send_mode: Mapped[str | None]
    workflow_id: Mapped[int | None]
    after_import: Mapped[str]
    folder: Mapped[str]
    sent_folder: Mapped[str | None]
    poll_interval: Mapped[int]
    failures: Mapped[int]
    next_poll_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None]
    lease_until: Mapped[datetime | None]
    lease_epoch: Mapped[int]
    state: Mapped[str]
    last_error: Mapped[str | None]
    last_checked_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error_at: Mapped[datetime | None]
    send_state: Mapped[str]
    send_error: Mapped[str | None]
    send_error_at: Mapped[datetime | None]
    send_success_at: Mapped[datetime | None]
    login_delay: Mapped[int | None]
    credentials_changed_at: Mapped[datetime | None]
    warning: Mapped[str | None]
    sync_contacts: Mapped[bool]
    sync_calendar: Mapped[bool]
    dav_url: Mapped[str | None]
    created_at: Mapped[datetime]

    owner: Mapped[User | None] = relationship(lazy="joined")
    incoming_server: Mapped[Server | None] = relationship(
        foreign_keys=[tables.mailboxes.c.incoming_server_id], lazy="joined"
    )
    outgoing_server: Mapped[Server | None] = relationship(
        foreign_keys=[tables.mailboxes.c.outgoing_server_id], lazy="joined"
    )
    oauth_app: Mapped[OAuthApp | None] = relationship(lazy="joined")
    workflow: Mapped[Workflow | None] = relationship(lazy="joined")


# The mailboxes table's partial unique indexes, declared with the ORM rather than in tables.py:
# their postgresql_where makes SQLAlchemy import its PostgreSQL dialect to check the argument,
# a tenth of a read-only CLI call on SQLite that never needs it.
# One address a system mailbox, one address per user for personal ones: a user never learns,
# by a refusal, that another user has added the same address.
_mailbox = tables.mailboxes.c
Index(
    "uq_mailboxes_system_address",
    _mailbox.address,
    unique=True,
    sqlite_where=text("owner_id IS NULL"),
    postgresql_where=text("owner_id IS NULL"),
)
Index(
    "uq_mailboxes_owner_address",
    _mailbox.owner_id,
    _mailbox.address,
    unique=True,
    sqlite_where=text("owner_id IS NOT NULL"),
    postgresql_where=text("owner_id IS NOT NULL"),
)
Index(
    "uq_mailboxes_one_default_per_owner",
    _mailbox.owner_id,
    unique=True,
    sqlite_where=text("is_default"),
    postgresql_where=text("is_default"),
)


class Worker(Base):
    """A live worker process; its heartbeat keeps the leases on the mailboxes it owns."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Request(Base):
    """One item of work; its number appears in subjects as [#id] so replies find it."""

    __table__ = tables.requests

    workflow_id: Mapped[int]
    step_id: Mapped[int | None]
    mailbox_id: Mapped[int | None]
    subject: Mapped[str]
    requester: Mapped[str]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    workflow: Mapped[Workflow] = relationship(lazy="joined")
    step: Mapped[WorkflowStep | None] = relationship(lazy="joined")


class Message(Base):
    """One stored email. The raw bytes are the truth; parsed fields are a cache of them."""

    __table__ = tables.messages

    mailbox_id: Mapped[int | None]
    request_id: Mapped[int | None]
    remote_key: Mapped[str | None]
    message_id_header: Mapped[str | None]
    sha256: Mapped[str]
    direction: Mapped[str]
    sender: Mapped[str]
    subject: Mapped[str]
    size: Mapped[int]
    raw: Mapped[bytes]
    status: Mapped[str]
    held_reason: Mapped[str | None]
    rule_hits: Mapped[list[Any]]
    received_at: Mapped[datetime]

    request: Mapped[Request | None] = relationship()


class RequestEvent(Base):
    """One entry of a request's history (opened, moved, replied, acknowledged), written in the
    transaction of the change it tells about, so the timeline never disagrees with the request."""

    __tablename__ = "request_events"

    request_id: Mapped[int] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    request: Mapped[Request] = relationship()


class AuditEntry(Base):
    __tablename__ = "audit_log"

    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(500))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FetchCursor(Base):
    """Where fetching a folder stopped: an optimisation, the stored message keys are the truth."""

    __tablename__ = "fetch_cursors"
    __table_args__ = (UniqueConstraint("mailbox_id", "folder"),)

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    folder: Mapped[str] = mapped_column(String(500), default="INBOX")
    validity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    token: Mapped[str | None] = mapped_column(Text)  # Graph delta link, Gmail history id
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class PendingAction(Base):
    """An after-import action (move, flag, delete) the server refused for a stored email: kept
    on that email and retried with backoff, while new mail goes on being imported."""

    __tablename__ = "pending_actions"
    __table_args__ = (UniqueConstraint("mailbox_id", "remote_key"),)

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    remote_key: Mapped[str] = mapped_column(String(1000))
    action: Mapped[str] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FetchFailure(Base):
    """An email that could not be fetched or stored: counted per try, and once quarantined
    (a `failed` held message stands in for it) never tried again nor acted on at the server."""

    __tablename__ = "fetch_failures"
    __table_args__ = (UniqueConstraint("mailbox_id", "remote_key"),)

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    remote_key: Mapped[str] = mapped_column(String(1000))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    quarantined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Connection(Base):
    """A named outbound route that processes pick by name (the Infor seed's email connection)."""

    __table__ = tables.connections

    name: Mapped[str]
    mailbox_id: Mapped[int]
    security: Mapped[str]
    connect_timeout: Mapped[float | None]  # None: no timeout (the seed)
    send_timeout: Mapped[float | None]
    auth: Mapped[str]
    action_base_url: Mapped[str | None]
    created_at: Mapped[datetime]

    mailbox: Mapped[Mailbox] = relationship(lazy="joined")


class OutboxItem(Base):
    """One email to send. This row is the truth: the Message-ID and the bytes are fixed when it
    is queued, so a retry sends exactly what was asked for."""

    __table__ = tables.outbox_items

    idempotency_key: Mapped[str | None]
    idempotency_scope: Mapped[str | None]
    idempotency_digest: Mapped[str | None]
    connection_id: Mapped[int | None]
    mailbox_id: Mapped[int | None]
    request_id: Mapped[int | None]
    message_id: Mapped[str]
    sender: Mapped[str]
    subject: Mapped[str]
    raw: Mapped[bytes]
    kind: Mapped[str]
    sent_copy: Mapped[str | None]
    sent_copy_error: Mapped[str | None]
    state: Mapped[str]
    attempts: Mapped[int]
    next_attempt_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    last_error: Mapped[str | None]
    wait_reason: Mapped[str | None]
    lease_owner: Mapped[str | None]
    lease_until: Mapped[datetime | None]
    data_sent_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    recipients: Mapped[list[OutboxRecipient]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="OutboxRecipient.id"
    )
    connection: Mapped[Connection | None] = relationship()  # the named route it went through


class OutboxRecipient(Base):
    """The outcome per recipient: a server may accept some and refuse others."""

    __table__ = tables.outbox_recipients

    item_id: Mapped[int]
    address: Mapped[str]
    status: Mapped[str]
    code: Mapped[int | None]
    detail: Mapped[str | None]


class Provider(Base):
    """An administrator's own mail provider: a name for some servers and the domains they
    serve, so discovery offers them first (the seeds' 'email providers domains')."""

    __tablename__ = "providers"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    oauth_provider: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    servers: Mapped[list[Server]] = relationship(
        secondary="provider_servers", lazy="selectin", order_by="Server.name"
    )


class ProviderServer(Base):
    __tablename__ = "provider_servers"
    __table_args__ = (UniqueConstraint("provider_id", "server_id"),)

    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    server_id: Mapped[int] = mapped_column(ForeignKey("servers.id", ondelete="CASCADE"))


class ProviderDomain(Base):
    """A domain an administrator gave to a provider: a built-in one (by key) or their own.
    One provider a domain, so discovery's first answer is never ambiguous."""

    __tablename__ = "provider_domains"

    domain: Mapped[str] = mapped_column(String(253), unique=True)
    builtin: Mapped[str | None] = mapped_column(String(50))
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    provider: Mapped[Provider | None] = relationship(lazy="joined")


class WebSession(Base):
    """A console sign-in. Only a hash of the id is stored, so a copy of the database signs no
    one in; the CSRF token belongs to the session and is checked on every unsafe request."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(lazy="joined")


class LoginFailure(Base):
    """One refused sign-in, by account and address: kept in the database so the limit holds
    across every worker process."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    key: Mapped[str] = mapped_column(String(400))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiToken(Base):
    """A bearer token for the REST API: shown once, stored as a hash, revocable."""

    __tablename__ = "api_tokens"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(lazy="joined")


class WorkflowMember(Base):
    """A user given a workflow works its requests; administrators work them all."""

    __table__ = tables.workflow_members

    workflow_id: Mapped[int]
    user_id: Mapped[int]


class OAuthFlow(Base):
    """A sign-in in progress: the state sent to the provider, the PKCE verifier (sealed) and
    what to do with the tokens. Used once; expires after a few minutes."""

    __tablename__ = "oauth_flows"

    state: Mapped[str] = mapped_column(String(100), unique=True)
    oauth_app_id: Mapped[int] = mapped_column(ForeignKey("oauth_apps.id", ondelete="CASCADE"))
    code_verifier: Mapped[bytes] = mapped_column(LargeBinary)
    actor_label: Mapped[str] = mapped_column(String(320))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    actor_is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    address: Mapped[str | None] = mapped_column(String(320))  # None: taken from the sign-in
    system: Mapped[bool] = mapped_column(Boolean, default=False)
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    oauth_app: Mapped[OAuthApp] = relationship(lazy="joined")


class RetentionSetting(Base):
    """An administrator's choice of how long held mail of one reason is kept. No row: the
    default (services/retention.py); a row with no days: kept until a person acts on it."""

    __tablename__ = "retention_settings"

    reason: Mapped[str] = mapped_column(String(50), unique=True)
    days: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(320), default="")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class WebhookSubscription(Base):
    """Where postroom tells another product what happened: a URL, the events it wants, and a
    signing secret (sealed; shown once when made or rotated) so the receiver knows it is us."""

    __table__ = tables.webhook_subscriptions

    name: Mapped[str]
    url: Mapped[str]
    events: Mapped[list[Any]]
    active: Mapped[bool]
    secret: Mapped[bytes | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One event for one subscription: the outbox of webhooks. Written in the transaction of
    the change it describes, so it exists exactly when the change does; this row is the truth."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),)

    uid: Mapped[str] = mapped_column(String(40), unique=True)  # Postroom-Delivery, for dedupe
    event_id: Mapped[str] = mapped_column(String(40), index=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending -> delivering -> delivered | failed (given up at the deadline)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    subscription: Mapped[WebhookSubscription] = relationship(lazy="joined")


class SendLimit(Base):
    """What one sending mailbox has used of its server's limits, and how long the provider
    asked it to slow down. Shared by every worker: a claim locks and counts it atomically."""

    __tablename__ = "send_limits"

    mailbox_id: Mapped[int] = mapped_column(
        ForeignKey("mailboxes.id", ondelete="CASCADE"), unique=True
    )
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_count: Mapped[int] = mapped_column(Integer, default=0)
    day_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    day_recipients: Mapped[int] = mapped_column(Integer, default=0)
    paused_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tight_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_throttle: Mapped[str | None] = mapped_column(Text)  # the provider's answer


class PushSubscription(Base):
    """A cloud mailbox's push channel: a Graph change-notification subscription or a Gmail
    watch. "active" while the provider notifies us; "polling" with the reason otherwise."""

    __table__ = tables.push_subscriptions

    mailbox_id: Mapped[int]
    provider: Mapped[str]
    state: Mapped[str]
    external_id: Mapped[str | None]
    expires_at: Mapped[datetime | None]
    reason: Mapped[str | None]
    renewed_at: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]


class MetricsToken(Base):
    """A bearer token that reads /metrics and nothing else, for Prometheus: a machine's
    credential, so it belongs to no user and survives the person who made it."""

    __table__ = tables.metrics_tokens

    name: Mapped[str]
    prefix: Mapped[str]
    token_hash: Mapped[str]
    created_by: Mapped[str]
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class DoctorNotice(Base):
    """When the doctor last told someone about one finding, so each is told at most once a day
    however often the doctor runs."""

    __tablename__ = "doctor_notices"

    finding: Mapped[str] = mapped_column(String(300), unique=True)
    notified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MailboxGap(Base):
    """The last comparison of what a mailbox's server holds with what postroom stored: mail
    that never became a request shows here, in the doctor and in the metrics."""

    __tablename__ = "mailbox_gaps"

    mailbox_id: Mapped[int] = mapped_column(
        ForeignKey("mailboxes.id", ondelete="CASCADE"), unique=True
    )
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    on_server: Mapped[int] = mapped_column(Integer, default=0)
    stored: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    missing_keys: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the first few
    error: Mapped[str | None] = mapped_column(Text)


class FetchRun(Base):
    """One fetch someone asked for (Fetch now), or one that failed: its counters are written in
    the transaction that commits each batch, so the progress shown is what is stored. Failed
    runs are the failures the mailbox health chart counts per day."""

    __tablename__ = "fetch_runs"
    __table_args__ = (Index("ix_fetch_runs_mailbox_state", "mailbox_id", "state"),)

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    requested_by: Mapped[str | None] = mapped_column(String(320))  # None: a scheduled fetch
    # waiting (for a worker) -> running -> done | failed
    state: Mapped[str] = mapped_column(String(20), default="waiting")
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # emails kept raw as failed
    error: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Contact(Base):
    """A person the mailbox's account knows, kept in step with it both ways. `pending` marks a
    change made in postroom that the account has not been told yet: it is written with the
    change, so a crash before the push only delays it."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("mailbox_id", "remote_id"),
        Index("ix_contacts_email", "email"),
    )

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    remote_id: Mapped[str | None] = mapped_column(String(1000))  # null until first pushed
    etag: Mapped[str | None] = mapped_column(String(500))  # the account's version we hold
    email: Mapped[str] = mapped_column(String(320), default="")
    name: Mapped[str] = mapped_column(String(300), default="")
    company: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(100), default="")
    pending: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # Deleted in postroom (pending too): hidden, kept until the account has deleted it.
    deleting: Mapped[bool] = mapped_column(Boolean, default=False)
    synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Activity(Base):
    """A follow-up or meeting in the mailbox owner's calendar, often made from a request (and
    linking back to it); synced both ways like a contact."""

    __tablename__ = "activities"
    __table_args__ = (UniqueConstraint("mailbox_id", "remote_id"),)

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("requests.id", ondelete="SET NULL"), index=True
    )
    remote_id: Mapped[str | None] = mapped_column(String(1000))
    etag: Mapped[str | None] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attendees: Mapped[list[Any]] = mapped_column(JSON, default=list)
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(2000), default="")
    pending: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # Deleted in postroom (pending too): hidden, kept until the account has deleted it.
    deleting: Mapped[bool] = mapped_column(Boolean, default=False)
    synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class RecordHistory(Base):
    """A version of a contact or activity that lost: an edit made in postroom while the account
    changed the same record, or a record the account deleted. Never lost silently, shown."""

    __tablename__ = "record_history"
    __table_args__ = (Index("ix_record_history_record", "kind", "record_id"),)

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # contact, activity
    record_id: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SyncState(Base):
    """Where the contacts or calendar sync of one mailbox stands: the account's cursor
    (committed with the records it brought), its health and when it runs next."""

    __tablename__ = "sync_states"
    __table_args__ = (UniqueConstraint("mailbox_id", "kind"),)

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # contacts, calendar (switched on the mailbox)
    cursor: Mapped[str | None] = mapped_column(Text)
    # A full listing in progress since then: at its end, what it did not touch is deleted.
    full_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
