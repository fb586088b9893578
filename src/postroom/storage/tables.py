"""The tables every read-only CLI call touches, as SQLAlchemy Core, with the ORM classes of
`models.py` mapped onto them.

Why Core here: a `postroom` call that only lists rows must start in ≤ 0.3 s, and importing
`sqlalchemy.orm` and configuring 38 declarative classes cost about as much as the whole budget
(benchmarks/cli_startup.py). Reads through these tables (services/listings.py) import neither.
The other tables stay declarative in `models.py`; all share this one MetaData, so Alembic and
the model/migration comparison test see a single schema. Enums are stored as their text values
so the database reads like the vocabulary.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from postroom.domain.settings import DEFAULT_MAX_CONNECTIONS

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True)


def _moment(name: str, **kwargs: object) -> Column[datetime]:
    return Column(name, DateTime(timezone=True), **kwargs)  # type: ignore[arg-type]


users = Table(
    "users",
    metadata,
    _id(),
    Column("email", String(320), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("password_hash", String(255)),
    _moment("created_at", nullable=False, default=utcnow),
    # A disabled user cannot sign in and their API tokens are refused; enabling restores both.
    _moment("disabled_at"),
    # Set by an administrator's password reset: the console asks for a new one first.
    Column("must_change_password", Boolean, nullable=False, default=False),
)

servers = Table(
    "servers",
    metadata,
    _id(),
    Column("name", String(100), nullable=False, unique=True),
    Column("protocol", String(10), nullable=False),
    Column("host", String(253), nullable=False),
    Column("port", Integer, nullable=False),
    Column("security", String(10), nullable=False),
    Column("connect_timeout", Float),
    Column("timeout", Float),
    Column("login_format", String(20), nullable=False, default="address"),
    Column("verify_tls", Boolean, nullable=False, default=True),
    Column("provider_domains", JSON, nullable=False, default=list),
    # Connections one worker may hold to this server for one login (IDLE and fetches together);
    # Dovecot's mail_max_userip_connections is 10 by default.
    Column(
        "max_connections",
        Integer,
        nullable=False,
        default=DEFAULT_MAX_CONNECTIONS,
        server_default=str(DEFAULT_MAX_CONNECTIONS),
    ),
    # The provider's sending limits, applied to each mailbox that sends through this server:
    # at most send_rate emails every send_rate_seconds, and recipients_per_day recipients in
    # any 24 hours from the first. Null: no limit.
    Column("send_rate", Integer),
    Column("send_rate_seconds", Integer),
    Column("recipients_per_day", Integer),
    _moment("created_at", nullable=False, default=utcnow),
    _moment("updated_at", nullable=False, default=utcnow, onupdate=utcnow),
)

oauth_apps = Table(
    "oauth_apps",
    metadata,
    _id(),
    Column("name", String(100), nullable=False, unique=True),
    Column("provider", String(20), nullable=False),
    Column("tenant", String(200)),
    Column("client_id", String(300), nullable=False),
    Column("client_secret", LargeBinary),
    Column("authorize_url", String(2000)),
    Column("token_url", String(2000)),
    Column("scopes", Text, nullable=False, default=""),
    _moment("created_at", nullable=False, default=utcnow),
)

workflows = Table(
    "workflows",
    metadata,
    _id(),
    Column("name", String(100), nullable=False, unique=True),
    Column("active", Boolean, nullable=False, default=True),
    _moment("deleted_at"),
    _moment("created_at", nullable=False, default=utcnow),
    # The email that tells a sender their request was opened; none is sent while the body is null.
    Column("acknowledgement_subject", Text),
    Column("acknowledgement_body", Text),
    # An email may join a request by its headers when its sender took part; with this, also
    # when the sender's domain is that of someone who took part (a colleague answering).
    Column("thread_same_domain", Boolean, nullable=False, default=False),
)

workflow_steps = Table(
    "workflow_steps",
    metadata,
    _id(),
    Column("workflow_id", ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("name", String(100), nullable=False),
    UniqueConstraint("workflow_id", "position"),
)

mailboxes = Table(
    "mailboxes",
    metadata,
    _id(),
    Column("address", String(320), nullable=False),
    Column("display_name", String(200), nullable=False, default=""),
    Column("owner_id", ForeignKey("users.id", ondelete="CASCADE")),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("incoming_server_id", ForeignKey("servers.id")),
    Column("outgoing_server_id", ForeignKey("servers.id")),
    Column("receive_enabled", Boolean, nullable=False, default=True),
    Column("send_enabled", Boolean, nullable=False, default=True),
    Column("username", String(320)),
    Column("login_format", String(20)),
    Column("password", LargeBinary),
    Column("oauth_app_id", ForeignKey("oauth_apps.id")),
    Column("oauth_tokens", LargeBinary),  # sealed JSON
    Column("oauth_account", String(320)),  # who signed in
    _moment("oauth_expires_at"),
    _moment("oauth_refresh_lease"),
    # own | shared-app-only | shared-delegate (domain.settings.MailboxAccess); a delegate's
    # mail goes out as send-as or send-on-behalf (SendMode), None for the others.
    Column("access", String(20), nullable=False, default="own", server_default="own"),
    Column("send_mode", String(20)),
    Column("workflow_id", ForeignKey("workflows.id")),
    Column("after_import", String(300), nullable=False, default="mark-read"),
    Column("folder", String(500), nullable=False, default="INBOX"),
    Column("sent_folder", String(500)),  # IMAP: keep a copy of sent mail
    Column("poll_interval", Integer, nullable=False, default=60),
    Column("failures", Integer, nullable=False, default=0),
    _moment("next_poll_at"),
    Column("lease_owner", String(200)),  # the worker that owns it
    _moment("lease_until"),  # unused now
    # The fencing token: raised each time another worker takes the mailbox, checked at commit.
    Column("lease_epoch", Integer, nullable=False, default=0, server_default="0"),
    Column("state", String(20), nullable=False, default="new"),
    Column("last_error", Text),
    _moment("last_checked_at"),
    _moment("last_success_at"),
    # Receiving and sending fail apart: `state`/`last_error` are receiving's, these sending's.
    _moment("last_error_at"),
    Column("send_state", String(20), nullable=False, default="new"),
    Column("send_error", Text),
    _moment("send_error_at"),
    _moment("send_success_at"),
    # Seconds the POP3 server wants between logins (RFC 2449 LOGIN-DELAY): polls never come sooner.
    Column("login_delay", Integer),
    # When the credentials last changed (a sign-in, a reconnect, a new password or server): a
    # fetch that began before and failed says nothing about the new ones.
    _moment("credentials_changed_at"),
    # A problem that does not stop receiving, e.g. an after-import action the server refused.
    Column("warning", Text),
    # Contacts and calendar synced with the account (sync/): the switches, and for IMAP/POP3
    # mailboxes the CardDAV/CalDAV URL (null: found by RFC 6764 discovery).
    Column("sync_contacts", Boolean, nullable=False, default=False),
    Column("sync_calendar", Boolean, nullable=False, default=False),
    Column("dav_url", String(2000)),
    _moment("created_at", nullable=False, default=utcnow),
    # Its partial unique indexes are in models.py (why, there).
)

# A cloud mailbox's push channel: a Graph change-notification subscription or a Gmail watch.
# "active" while the provider notifies us; "polling" with the reason otherwise.
push_subscriptions = Table(
    "push_subscriptions",
    metadata,
    _id(),
    Column(
        "mailbox_id",
        ForeignKey("mailboxes.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("provider", String(10), nullable=False),  # graph, gmail
    Column("state", String(20), nullable=False, default="polling"),
    Column("external_id", String(300), index=True),  # Graph's id
    _moment("expires_at"),
    Column("reason", Text),
    _moment("renewed_at"),
    _moment("notified_at"),
)

# --- Requests, held messages and the outbox (postroom request/held/outbox list) ---------------

# A user given a workflow works its requests; administrators work them all.
workflow_members = Table(
    "workflow_members",
    metadata,
    _id(),
    Column("workflow_id", ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    UniqueConstraint("workflow_id", "user_id"),
)

# One item of work; its number appears in subjects as [#id] so replies find it.
requests = Table(
    "requests",
    metadata,
    _id(),
    Column("workflow_id", ForeignKey("workflows.id"), nullable=False),
    Column("step_id", ForeignKey("workflow_steps.id")),
    Column("mailbox_id", ForeignKey("mailboxes.id", ondelete="SET NULL")),
    Column("subject", Text, nullable=False, default=""),
    Column("requester", String(320), nullable=False, default=""),
    _moment("created_at", nullable=False, default=utcnow),
    _moment("updated_at", nullable=False, default=utcnow, onupdate=utcnow),
)

# One stored email. The raw bytes are the truth; parsed fields are a cache of them.
messages = Table(
    "messages",
    metadata,
    _id(),
    Column("mailbox_id", ForeignKey("mailboxes.id", ondelete="SET NULL")),
    Column("request_id", ForeignKey("requests.id"), index=True),
    Column("remote_key", String(1000)),
    Column("message_id_header", String(1000)),
    Column("sha256", String(64), nullable=False, index=True),
    Column("direction", String(10), nullable=False, default="in"),
    Column("sender", String(320), nullable=False, default=""),
    Column("subject", Text, nullable=False, default=""),
    Column("size", Integer, nullable=False, default=0),
    Column("raw", LargeBinary, nullable=False),
    Column("status", String(20), nullable=False, default="stored"),
    Column("held_reason", Text),
    Column("rule_hits", JSON, nullable=False, default=list),
    _moment("received_at", nullable=False, default=utcnow),
    UniqueConstraint("mailbox_id", "remote_key"),
    Index("ix_messages_message_id_header", "message_id_header"),
    Index("ix_messages_sender_received", "sender", "received_at"),
    Index("ix_messages_status", "status"),
    Index("ix_messages_held_retention", "status", "held_reason", "received_at"),
    Index("ix_messages_mailbox_received", "mailbox_id", "received_at"),  # the health chart
)

# A named outbound route that processes pick by name (the Infor seed's email connection).
# The outbox list shows and filters by its name; `connection list` lists them.
connections = Table(
    "connections",
    metadata,
    _id(),
    Column("name", String(100), nullable=False, unique=True),
    Column("mailbox_id", ForeignKey("mailboxes.id"), nullable=False),
    Column("security", String(10), nullable=False),
    Column("connect_timeout", Float),  # None: no timeout (the seed)
    Column("send_timeout", Float),
    Column("auth", String(10), nullable=False, default="basic"),
    Column("action_base_url", String(2000)),
    _moment("created_at", nullable=False, default=utcnow),
)

# Where postroom tells another product what happened: a URL, the events it wants, and a
# signing secret (sealed; shown once when made or rotated) so the receiver knows it is us.
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    _id(),
    Column("name", String(100), nullable=False, unique=True),
    Column("url", String(2000), nullable=False),
    Column("events", JSON, nullable=False, default=list),
    Column("active", Boolean, nullable=False, default=True),
    Column("secret", LargeBinary),
    _moment("created_at", nullable=False, default=utcnow),
    _moment("updated_at", nullable=False, default=utcnow, onupdate=utcnow),
)

# A bearer token that reads /metrics and nothing else, for Prometheus: a machine's credential,
# so it belongs to no user and survives the person who made it.
metrics_tokens = Table(
    "metrics_tokens",
    metadata,
    _id(),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_by", String(320), nullable=False, default=""),
    _moment("created_at", nullable=False, default=utcnow),
    _moment("last_used_at"),
    _moment("revoked_at"),
)

# One email to send. This row is the truth: the Message-ID and the bytes are fixed when it is
# queued, so a retry sends exactly what was asked for.
outbox_items = Table(
    "outbox_items",
    metadata,
    _id(),
    Column("idempotency_key", String(200)),
    Column("idempotency_scope", String(100)),  # who used the key
    Column("idempotency_digest", String(64)),  # what it was used for
    Column("connection_id", ForeignKey("connections.id")),
    Column("mailbox_id", ForeignKey("mailboxes.id", ondelete="SET NULL")),
    Column("request_id", ForeignKey("requests.id")),
    Column("message_id", String(500), nullable=False, unique=True),
    Column("sender", String(320), nullable=False),
    Column("subject", Text, nullable=False, default=""),
    Column("raw", LargeBinary, nullable=False),
    Column("kind", String(20), nullable=False, default="email"),  # email, reply, acknowledgement
    # The copy in the mailbox's IMAP Sent folder: null (none wanted), "pending", "done", "failed".
    Column("sent_copy", String(20)),
    Column("sent_copy_error", Text),
    # queued -> sending -> sent | failed | bounced; "deferred" (waits for the provider's limit,
    # then is taken like "queued"); "uncertain" when the process died between
    # the end of DATA and the server's answer: it may have been delivered, so it is not resent.
    Column("state", String(20), nullable=False, default="queued"),
    Column("attempts", Integer, nullable=False, default=0),
    _moment("next_attempt_at", nullable=False, default=utcnow),
    _moment("deadline_at", nullable=False),
    Column("last_error", Text),
    # Why a "deferred" item waits (the provider's limit, or its throttling): never a failure.
    Column("wait_reason", Text),
    Column("lease_owner", String(200)),
    _moment("lease_until"),
    _moment("data_sent_at"),
    _moment("sent_at"),
    _moment("created_at", nullable=False, default=utcnow),
    Index("ix_outbox_items_due", "state", "next_attempt_at"),
    Index("ix_outbox_items_sent_copy", "sent_copy"),
    # A key is the acting user's own: another user's equal key is a different email.
    UniqueConstraint("idempotency_scope", "idempotency_key"),
)

# The outcome per recipient: a server may accept some and refuse others.
outbox_recipients = Table(
    "outbox_recipients",
    metadata,
    _id(),
    Column(
        "item_id", ForeignKey("outbox_items.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("address", String(320), nullable=False, index=True),
    Column("status", String(20), nullable=False, default="pending"),  # accepted, refused, bounced
    Column("code", Integer),
    Column("detail", Text),
)
