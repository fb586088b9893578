"""What every inbound rule is, and what the pipeline tells it about the world.

Rules are pure: they read a message's headers and the context, never the network or the
database, so each can be proved with a handful of headers. Anything that needs the database (a
sender's recent count) arrives here as a function the pipeline supplies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from postroom.domain.messages import Headers, Hit

MiB = 1024 * 1024
_COMMENT = re.compile(r"\([^()]*\)")


def _nobody_wrote_recently(sender: str) -> int:
    return 0


@dataclass(frozen=True)
class RuleContext:
    """Facts about postroom itself that some rules need; one per pipeline run."""

    own_addresses: frozenset[str] = frozenset()  # every mailbox address postroom has, lower case
    max_size: int = 25 * MiB  # bytes; larger mail is held, not opened as a request
    sender_rate_limit: int = 20  # messages from one sender in the window; 0 turns the cap off
    # How many messages this sender sent in the window, not counting the one being checked.
    recent_from_sender: Callable[[str], int] = field(default=_nobody_wrote_recently)


class Rule(Protocol):
    """A check on one inbound message.

    `name` is stable (it is stored with each hit and keys the verdict mapping in chain.py);
    `description` is one line for the console. `check` returns a `Hit` whose reason a person can
    read ("Auto-Submitted: auto-replied"), or None. It must not raise for odd header values: a
    message only reaches the rules once parsed, and mail is what strangers send.
    """

    name: str
    description: str

    def check(self, msg: Headers, context: RuleContext) -> Hit | None: ...


def auto_submitted(msg: Headers) -> str:
    """The Auto-Submitted keyword, lower case, without parameters or comments ("" when absent).

    RFC 3834 allows `auto-replied; owner-email=...` and CFWS comments like `no (manual)`.
    """
    value = _COMMENT.sub("", msg.header("Auto-Submitted"))
    return value.split(";")[0].strip().lower()
