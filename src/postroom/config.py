"""Settings read from the environment, so one binary serves a laptop and a cluster alike.

A plain pydantic model filled from POSTROOM_* variables rather than pydantic-settings: every
`postroom` call reads these, and pydantic-settings' import cost about 50 ms of a CLI call's
0.3 s budget (benchmarks/cli_startup.py). Every field is a scalar, so its sources and JSON
parsing bought nothing here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from postroom.errors import ConfigurationError

PREFIX = "POSTROOM_"


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data_dir: Path = Path("postroom-data")
    database_url: str | None = None
    secret_key: str | None = None
    log_level: str = "INFO"
    fetch_batch_size: int = 200  # messages a transaction; see benchmarks/ingest for the choice
    max_message_size: int = 25 * 1024 * 1024  # larger mail is held as oversize, never dropped
    sender_rate_limit: int = 20  # messages from one sender an hour before they are held
    acknowledgement_limit: int = 3  # acknowledgements to one sender a day, whatever they send
    # Emails marked "end of DATA" in one commit. 1: a crash leaves at most one email
    # uncertain; more: faster, and up to that many uncertain (never resent). See benchmarks/send.
    send_window: int = 1
    public_url: str = "http://127.0.0.1:8025"  # links to it are rewritten per connection
    # Where the identity providers live; only tests point these elsewhere (at loopback).
    microsoft_login_url: str = "https://login.microsoftonline.com"
    google_accounts_url: str = "https://accounts.google.com"
    google_oauth2_url: str = "https://oauth2.googleapis.com"
    oauth_refresh_ahead: int = 300  # seconds before expiry an access token is renewed
    oauth_flow_lifetime: int = 600  # seconds a started sign-in may take
    notify_connection: str | None = None  # the connection that tells owners of broken mailboxes
    # Seconds a webhook receiver has to accept the connection, and then to answer.
    webhook_connect_timeout: float = 5.0
    webhook_timeout: float = 10.0
    # Proxies whose X-Forwarded-For is believed: addresses or networks, comma-separated. Empty:
    # the peer's own address is the client, whatever a header says.
    trusted_proxies: str = ""
    # Request bodies: refused (413) from their Content-Length, before a byte is read. The limit
    # fits a message of max_message_size in base64 inside JSON; callers that are not signed in
    # (sign-in, first run) may send only small forms.
    max_body_size: int = 40 * 1024 * 1024
    max_anonymous_body_size: int = 256 * 1024
    # Discovery and connection tests reach out to the network: per user, at most this many at
    # once and this many a minute (429 beyond), on threads of their own so nothing else waits.
    network_calls_at_once: int = 2
    network_calls_per_minute: int = 20
    network_threads: int = 16
    # Seconds a worker's heartbeat keeps its mailboxes; past it, other workers take them over.
    worker_lease: float = 15.0
    # Push from Microsoft 365 and Gmail (README: Push). Both need public_url set explicitly;
    # Gmail also the Cloud Pub/Sub topic that its push subscription sends to /push/gmail.
    gmail_push_topic: str | None = None  # projects/PROJECT/topics/TOPIC
    gmail_push_audience: str | None = None  # the push's token audience; default: its URL
    gmail_push_account: str | None = None  # the service account the push is signed as
    google_jwks_url: str = "https://www.googleapis.com/oauth2/v3/certs"

    @property
    def push_base(self) -> str | None:
        """The public URL providers can reach, or None when it was never set (the default
        points at this machine, where no provider can send a notification)."""
        return self.public_url.rstrip("/") if "public_url" in self.model_fields_set else None

    metrics_public: bool = False  # /metrics without a token: only behind a trusted network
    doctor_within_days: int = 14  # what the daily doctor warns about, ahead of time

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'postroom.db').resolve()}"

    @property
    def key_file(self) -> Path:
        return self.data_dir / "secret.key"


def from_environment(environ: Mapping[str, str]) -> Settings:
    """POSTROOM_FETCH_BATCH_SIZE=500 sets fetch_batch_size; names are case-insensitive."""
    values = {
        name[len(PREFIX) :].lower(): value
        for name, value in environ.items()
        if name.upper().startswith(PREFIX)
    }
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{PREFIX}{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigurationError(f"A setting in the environment is wrong: {problems}.") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return from_environment(os.environ)
