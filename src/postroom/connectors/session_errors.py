"""Mid-session failures become Transient: the mailbox backs off and retries, nothing is lost."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from postroom.connectors.server_words import words
from postroom.errors import CommandRefused, Transient


@contextmanager
def mid_session(
    label: str, refused: tuple[type[Exception], ...], lost: tuple[type[Exception], ...] = ()
) -> Iterator[None]:
    """`lost`: the protocol library's own 'connection dropped' errors, checked before `refused`
    because libraries often derive them from their general error."""
    dropped: tuple[type[BaseException], ...] = (OSError, ssl.SSLError, EOFError, *lost)
    try:
        yield
    except TimeoutError as exc:
        raise Transient(f"{label} did not answer in time.") from exc
    except dropped as exc:
        raise Transient(f"{label}: the connection was lost ({words(exc)}).") from exc
    except refused as exc:
        raise CommandRefused(f"{label} refused a command: {words(exc)}") from exc
