"""What API clients send. Answers come from services/present.py, never from these models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerIn(Strict):
    name: str = Field(max_length=100)
    protocol: str = Field(max_length=10)
    host: str | None = Field(default=None, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: str | None = Field(default=None, max_length=10)
    connect_timeout: float | None = Field(default=15.0, gt=0, le=3600)
    timeout: float | None = Field(default=60.0, gt=0, le=3600)
    login_format: str = Field(default="address", max_length=20)
    verify_tls: bool = True
    provider_domains: list[str] = Field(default_factory=list, max_length=50)
    max_connections: int | None = Field(default=None, ge=1, le=10_000)
    send_rate: str | None = Field(
        default=None,
        max_length=20,
        description="e.g. 30/min per sending mailbox; none: no limit; absent: the provider's",
    )
    recipients_per_day: int | None = Field(
        default=None, ge=0, le=10_000_000, description="0: no limit; absent: the provider's"
    )


class OAuthAppIn(Strict):
    name: str = Field(max_length=100)
    provider: str = Field(max_length=20)
    client_id: str = Field(max_length=300)
    client_secret: str | None = Field(default=None, max_length=2000, description="write-only")
    tenant: str | None = Field(default=None, max_length=200)
    authorize_url: str | None = Field(default=None, max_length=2000)
    token_url: str | None = Field(default=None, max_length=2000)
    scopes: str | None = Field(default=None, max_length=2000)


class MailboxIn(Strict):
    address: str = Field(max_length=320)
    incoming: str | None = Field(default=None, max_length=100)
    outgoing: str | None = Field(default=None, max_length=100)
    system: bool = Field(default=False, description="a system mailbox (administrators only)")
    owner: str | None = Field(default=None, max_length=320)
    username: str | None = Field(default=None, max_length=320)
    password: str | None = Field(default=None, max_length=2000, description="write-only")
    oauth_app: str | None = Field(default=None, max_length=100)
    workflow: str | None = Field(default=None, max_length=100)
    after_import: str | None = Field(default=None, max_length=300)
    default: bool = False
    display_name: str = Field(default="", max_length=200)
    poll_interval: int = Field(default=60, ge=1, le=86_400)
    folder: str = Field(default="INBOX", max_length=500)
    access: str = Field(
        default="own",
        max_length=20,
        description="own, shared-app-only (a Microsoft 365 shared mailbox through the app's "
        "own permission) or shared-delegate (through a person's sign-in)",
    )
    send_mode: str | None = Field(
        default=None, max_length=20, description="shared-delegate: send-as or send-on-behalf"
    )


class MailboxBatch(Strict):
    mailboxes: list[MailboxIn] = Field(min_length=1, max_length=10_000)


class MailboxChange(Strict):
    """Only the fields sent change; "" clears a server, the workflow, the user name, the OAuth
    app or the Sent folder (see `postroom mailbox edit`)."""

    display_name: str | None = Field(default=None, max_length=200)
    workflow: str | None = Field(default=None, max_length=100)
    incoming: str | None = Field(default=None, max_length=100)
    outgoing: str | None = Field(default=None, max_length=100)
    receive: bool | None = None
    send: bool | None = None
    after_import: str | None = Field(default=None, max_length=300)
    folder: str | None = Field(default=None, max_length=500)
    sent_folder: str | None = Field(default=None, max_length=500)
    poll_interval: int | None = Field(default=None, ge=1, le=86_400)
    username: str | None = Field(default=None, max_length=320)
    password: str | None = Field(default=None, max_length=2000, description="write-only")
    oauth_app: str | None = Field(default=None, max_length=100)
    sync: str | None = Field(
        default=None, max_length=100, description='"contacts,calendar", one of them, or "none"'
    )
    dav_url: str | None = Field(default=None, max_length=2000, description='"" to discover')
    access: str | None = Field(default=None, max_length=20)
    send_mode: str | None = Field(default=None, max_length=20)


class Reconnect(Strict):
    password: str | None = Field(default=None, max_length=2000, description="write-only")


class ConnectionIn(Strict):
    name: str = Field(max_length=100)
    mailbox: str = Field(max_length=320)
    security: str | None = Field(default=None, max_length=10)
    connect_timeout: float | None = Field(default=None, gt=0, le=3600)
    send_timeout: float | None = Field(default=None, gt=0, le=3600)
    auth: str = Field(default="basic", max_length=10)
    action_base_url: str | None = Field(default=None, max_length=2000)


class ConnectionChange(Strict):
    """Only the fields sent change; null clears a timeout or the action base URL."""

    name: str | None = Field(default=None, max_length=100)
    mailbox: str | None = Field(default=None, max_length=320)
    security: str | None = Field(default=None, max_length=10)
    connect_timeout: float | None = Field(default=None, gt=0, le=3600)
    send_timeout: float | None = Field(default=None, gt=0, le=3600)
    auth: str | None = Field(default=None, max_length=10)
    action_base_url: str | None = Field(default=None, max_length=2000)


class WorkflowIn(Strict):
    name: str = Field(max_length=100)
    steps: list[str] = Field(max_length=50)


class StepsIn(Strict):
    steps: list[str] = Field(
        max_length=50,
        description='the steps in order; "OLD=NEW" renames a step, a step left out is removed',
    )


class WorkflowChange(Strict):
    active: bool | None = None
    thread_same_domain: bool | None = Field(
        None, description="a sender of a participant's domain may join its requests"
    )


class UserIn(Strict):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1000, description="write-only")
    admin: bool = False


class Member(Strict):
    email: str = Field(max_length=320)


class Move(Strict):
    step: str = Field(max_length=100)


class Reply(Strict):
    body: str = Field(max_length=1_000_000)
    html: str | None = Field(default=None, max_length=5_000_000)
    mailbox: str | None = Field(default=None, max_length=320, description="sending address")


class OpenRequest(Strict):
    workflow: str = Field(max_length=100)


class Attach(Strict):
    request: int = Field(ge=1, le=2**31 - 1)


class EmailIn(Strict):
    sender: str = Field(max_length=320, description="the sending mailbox's address")
    to: list[str] = Field(min_length=1, max_length=500)
    cc: list[str] = Field(default_factory=list, max_length=500)
    bcc: list[str] = Field(default_factory=list, max_length=500)
    subject: str = Field(default="", max_length=2000)
    text: str = Field(default="", max_length=1_000_000)
    html: str | None = Field(default=None, max_length=5_000_000)
    connection: str | None = Field(default=None, max_length=100)
    request: int | None = Field(default=None, ge=1, le=2**31 - 1)


class TokenIn(Strict):
    name: str = Field(max_length=100)


class RetentionIn(Strict):
    days: int | None = Field(
        ge=1, le=36_500, description="days held mail is kept; null: until a person acts on it"
    )


class WebhookIn(Strict):
    name: str = Field(max_length=100)
    url: str = Field(max_length=2000)
    events: list[str] = Field(min_length=1, max_length=50)
    active: bool = True


class WebhookChange(Strict):
    active: bool


class RoleIn(Strict):
    admin: bool


class PasswordIn(Strict):
    password: str = Field(max_length=1000, description="write-only")
    must_change: bool = Field(default=True, description="the user picks their own at sign-in")


class WorkflowsIn(Strict):
    workflows: list[str] = Field(max_length=500)


class ContactIn(Strict):
    mailbox: str = Field(max_length=320, description="whose address book (it must sync contacts)")
    email: str = Field(max_length=320)
    name: str = Field(max_length=300)
    company: str = Field(default="", max_length=300)
    phone: str = Field(default="", max_length=100)


class ContactPatch(Strict):
    """Only the fields sent change; the next sync writes them to the account."""

    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=300)
    company: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=100)


class ActivityIn(Strict):
    mailbox: str = Field(max_length=320, description="whose calendar (it must sync it)")
    title: str = Field(max_length=500)
    start: datetime
    end: datetime
    request: int | None = Field(default=None, ge=1, le=2**31 - 1)
    attendees: list[str] | None = Field(
        default=None, max_length=100, description="default: the request's requester"
    )
    body: str = Field(default="", max_length=20_000)


class ActivityPatch(Strict):
    title: str | None = Field(default=None, max_length=500)
    start: datetime | None = None
    end: datetime | None = None
    attendees: list[str] | None = Field(default=None, max_length=100)
    body: str | None = Field(default=None, max_length=20_000)
