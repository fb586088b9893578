"""Settings read from the environment, so one binary serves a laptop and a cluster alike."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POSTROOM_", extra="ignore")

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
