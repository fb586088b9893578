"""The outbox's states and what its list can be narrowed to, without the ORM: `postroom outbox
list` names the states in its help and reads through Core (services/listings.py), so this
vocabulary cannot live in services/outbox.py, which loads the ORM and the composer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from postroom.errors import InvalidInput

STATES = ("queued", "deferred", "sending", "sent", "failed", "bounced", "uncertain", "cancelled")


@dataclass(frozen=True)
class Filter:
    """What the outbox list is narrowed to; every field optional."""

    state: str | None = None
    mailbox: str | None = None  # the sending mailbox's address
    connection: str | None = None  # a named connection
    recipient: str | None = None  # part of a recipient's address
    since: date | None = None  # queued on or after this day (UTC)
    until: date | None = None  # queued on or before this day (UTC)

    def check(self) -> None:
        if self.state and self.state not in STATES:
            raise InvalidInput(
                f"No outbox state {self.state!r}: use one of {', '.join(STATES)}.", field="state"
            )
        if self.since and self.until and self.since > self.until:
            raise InvalidInput("The from date is after the to date: swap them.", field="since")


def shown_state(state: str, recipients: Iterable[tuple[str, int | None]]) -> str:
    """ "deferred": queued again after a try the server (or the network) turned away, told by
    the recipients' last answer, (status, code) each (a pending recipient keeps it; a person's
    retry clears it)."""
    answered = any(status == "pending" and code is not None for status, code in recipients)
    return "deferred" if state == "queued" and answered else state
