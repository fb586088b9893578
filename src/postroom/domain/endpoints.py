"""What a connector needs to reach a server, with no database rows in sight."""

from __future__ import annotations

from dataclasses import dataclass, field

from postroom.domain.settings import Protocol, Security


@dataclass(frozen=True)
class Endpoint:
    protocol: Protocol
    host: str
    port: int
    security: Security
    connect_timeout: float | None = 15.0
    timeout: float | None = 60.0
    verify_tls: bool = True


@dataclass(frozen=True)
class Credentials:
    login: str
    password: str = field(repr=False)  # or the OAuth2 access token when bearer is set
    bearer: bool = False  # sign in with XOAUTH2 / a Bearer header, never with a password
    # The person whose token reaches `login`, a shared mailbox they have rights on; None when
    # the token is the mailbox's own (or the app's).
    delegate: str | None = None
