"""The words of DESIGN.md's vocabulary that describe how a mailbox reaches its servers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

# Connections one worker may hold to a server for one login: Dovecot's default
# mail_max_userip_connections, so a worker never locks itself out.
DEFAULT_MAX_CONNECTIONS = 10


class Protocol(StrEnum):
    IMAP = "imap"
    POP3 = "pop3"
    SMTP = "smtp"
    GRAPH = "graph"
    GMAIL = "gmail"

    @property
    def receives(self) -> bool:
        return self in (Protocol.IMAP, Protocol.POP3, Protocol.GRAPH, Protocol.GMAIL)

    @property
    def sends(self) -> bool:
        return self in (Protocol.SMTP, Protocol.GRAPH, Protocol.GMAIL)

    @property
    def speaks_tcp(self) -> bool:
        """Graph and Gmail are HTTPS APIs: host, port and security do not apply to them."""
        return self in (Protocol.IMAP, Protocol.POP3, Protocol.SMTP)


# Mailboxes of these protocols are pushed to (services/push.py); the others are polled or IDLE.
PUSHED = (Protocol.GRAPH.value, Protocol.GMAIL.value)


class Security(StrEnum):
    TLS = "tls"
    STARTTLS = "starttls"
    NONE = "none"


class LoginFormat(StrEnum):
    """How the login name is made from the address (the seeds' 'login format')."""

    ADDRESS = "address"
    LOCAL_PART = "local-part"
    CUSTOM = "custom"

    def login_for(self, address: str, username: str | None) -> str:
        if self is LoginFormat.CUSTOM and username:
            return username
        if self is LoginFormat.LOCAL_PART:
            return address.rsplit("@", 1)[0]
        return username or address


class AfterImportKind(StrEnum):
    DELETE = "delete"
    MARK_READ = "mark-read"
    MOVE = "move"
    KEEP = "keep"


class MailboxState(StrEnum):
    NEW = "new"
    OK = "ok"
    AUTH_FAILED = "auth-failed"
    UNREACHABLE = "unreachable"
    NEEDS_RECONNECT = "needs-reconnect"
    DISABLED = "disabled"
    RETRYING = "retrying"  # reached, and asked us to come back later (POP3 [IN-USE] …)
    SERVER_ERROR = "server-error"  # reached; it reports a fault of its own ([SYS/PERM])
    MISCONFIGURED = "misconfigured"  # reached; the settings cannot work: a person must fix them


class MailboxAccess(StrEnum):
    """Whose sign-in reaches the mailbox. A Microsoft 365 shared mailbox has no password or
    licence of its own: the app's own permission reaches it, or a person with rights on it."""

    OWN = "own"  # the mailbox's own password or sign-in
    SHARED_APP_ONLY = "shared-app-only"  # client credentials, /users/{shared}/…
    SHARED_DELEGATE = "shared-delegate"  # a delegate's token, user=shared in XOAUTH2

    @property
    def shared(self) -> bool:
        return self is not MailboxAccess.OWN


class SendMode(StrEnum):
    """How a delegate's mail from a shared mailbox reads: From the shared address alone (Send
    As), or From it with Sender the delegate (Send on Behalf, RFC 5322 3.6.2)."""

    SEND_AS = "send-as"
    SEND_ON_BEHALF = "send-on-behalf"


class OAuthProvider(StrEnum):
    MICROSOFT = "microsoft"
    GOOGLE = "google"
    GENERIC = "generic"


DEFAULT_PORTS: dict[tuple[Protocol, Security], int] = {
    (Protocol.IMAP, Security.TLS): 993,
    (Protocol.IMAP, Security.STARTTLS): 143,
    (Protocol.IMAP, Security.NONE): 143,
    (Protocol.POP3, Security.TLS): 995,
    (Protocol.POP3, Security.STARTTLS): 110,
    (Protocol.POP3, Security.NONE): 110,
    (Protocol.SMTP, Security.TLS): 465,
    (Protocol.SMTP, Security.STARTTLS): 587,
    (Protocol.SMTP, Security.NONE): 25,
    (Protocol.GRAPH, Security.TLS): 443,
    (Protocol.GMAIL, Security.TLS): 443,
}

DEFAULT_HOSTS: dict[Protocol, str] = {
    Protocol.GRAPH: "graph.microsoft.com",
    Protocol.GMAIL: "gmail.googleapis.com",
}


def workflow_status(active: bool, deleted_at: datetime | None) -> str:
    """active, inactive (holding new mail) or deleted (kept for its requests' history)."""
    if deleted_at is not None:
        return "deleted"
    return "active" if active else "inactive"
