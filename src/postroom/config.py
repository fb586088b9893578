"""Settings read from the environment, so one binary serves a laptop and a cluster alike.

A frozen dataclass filled from POSTROOM_* variables rather than a pydantic model: every
`postroom` call reads these, and importing pydantic cost 0.05-0.18 s of a CLI call's 0.3 s
budget (benchmarks/cli_startup.py). Every field is a scalar (str, int, float, bool, Path, or
one of those or None), so converting a variable from its annotation is a few lines here.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, get_args, get_type_hints

from postroom.errors import ConfigurationError

PREFIX = "POSTROOM_"


@dataclasses.dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("postroom-data")
    # Not in a repr, which may reach a log: the URL may hold a password, the key is the key.
    database_url: str | None = dataclasses.field(default=None, repr=False)
    secret_key: str | None = dataclasses.field(default=None, repr=False)
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
        return self.public_url.rstrip("/") if "public_url" in self.given else None

    metrics_public: bool = False  # /metrics without a token: only behind a trusted network
    doctor_within_days: int = 14  # what the daily doctor warns about, ahead of time
    # The fields the environment named, whatever their value: a default and the same value set
    # on purpose mean different things (push_base). Not a setting itself.
    given: frozenset[str] = dataclasses.field(default=frozenset(), kw_only=True, repr=False)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'postroom.db').resolve()}"

    @property
    def key_file(self) -> Path:
        return self.data_dir / "secret.key"


def from_environment(environ: Mapping[str, str]) -> Settings:
    """POSTROOM_FETCH_BATCH_SIZE=500 sets fetch_batch_size; names are case-insensitive, and
    POSTROOM_* names that are no field here belong to other parts (POSTROOM_DISCOVERY_*).
    An empty variable for a field that may be None means None: `POSTROOM_DATABASE_URL=` in a
    compose file is the default database, not a URL of no characters."""
    converters = _converters()
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, raw in environ.items():
        if not name.upper().startswith(PREFIX):
            continue
        field = name[len(PREFIX) :].lower()
        if field not in converters:
            continue
        convert, expected = converters[field]
        try:
            values[field] = convert(raw)
        except ValueError:
            problems.append(f"{PREFIX}{field.upper()} is {raw!r}, it should be {expected}")
    if problems:
        raise ConfigurationError(f"A setting in the environment is wrong: {'; '.join(problems)}.")
    return Settings(**values, given=frozenset(values))


def _boolean(raw: str) -> bool:
    word = raw.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(raw)


_TRUE = frozenset({"1", "true", "yes", "on", "t", "y"})
_FALSE = frozenset({"0", "false", "no", "off", "f", "n"})
# Each type a field may have: how a variable becomes one, and what to ask for when it cannot.
_SCALARS: dict[Any, tuple[Callable[[str], Any], str]] = {
    str: (str, "text"),
    int: (int, "an integer, such as 200"),
    float: (float, "a number, such as 2.5"),
    bool: (_boolean, "true or false (or 1/0, yes/no, on/off)"),
    Path: (Path, "a path"),
}


@lru_cache(maxsize=1)
def _converters() -> dict[str, tuple[Callable[[str], Any], str]]:
    """Per field name, its conversion from a variable's text, and what that text should be.

    A field of a type not in _SCALARS fails here, on the first read of the settings."""
    hints = get_type_hints(Settings)
    converters = {}
    for field in dataclasses.fields(Settings):
        if field.name == "given":
            continue
        annotation = hints[field.name]
        if isinstance(annotation, UnionType) and NoneType in get_args(annotation):
            (inner,) = (a for a in get_args(annotation) if a is not NoneType)
            convert, expected = _SCALARS[inner]
            converters[field.name] = (_or_none(convert), f"{expected}, or empty for none")
        else:
            converters[field.name] = _SCALARS[annotation]
    return converters


def _or_none(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    return lambda raw: None if raw == "" else convert(raw)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return from_environment(os.environ)
