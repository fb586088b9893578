"""The rules in order, and what their hits mean for the pipeline, each read in one place.

Every rule runs, even after one has matched, so the console can show every reason a message
got; the verdict is then the strongest one any hit asks for.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from postroom.domain.messages import Headers, Hit
from postroom.inbound.rules.auto_reply import AutoReply
from postroom.inbound.rules.base import Rule, RuleContext
from postroom.inbound.rules.bounce import Bounce
from postroom.inbound.rules.list_mail import ListMail
from postroom.inbound.rules.oversize import Oversize
from postroom.inbound.rules.own_mail import OwnMail
from postroom.inbound.rules.sender_rate import SenderRate

CHAIN: tuple[Rule, ...] = (AutoReply(), ListMail(), Bounce(), OwnMail(), Oversize(), SenderRate())


class Verdict(StrEnum):
    """What the pipeline may do with a message; declared weakest first."""

    OPEN_OR_THREAD = "open-or-thread"  # may open a request or join the thread it answers
    THREAD_ONLY = "thread-only"  # may join the thread it answers; never opens one, never answered
    HOLD = "hold"  # held with the hits' reasons, visible and reprocessable


VERDICTS: dict[str, Verdict] = {
    "auto-reply": Verdict.THREAD_ONLY,
    "list-mail": Verdict.THREAD_ONLY,
    "bounce": Verdict.THREAD_ONLY,
    "own-mail": Verdict.THREAD_ONLY,
    "oversize": Verdict.HOLD,
    "sender-rate": Verdict.HOLD,
}
_STRENGTH = {verdict: rank for rank, verdict in enumerate(Verdict)}


def run_chain(headers: Headers, context: RuleContext, chain: Iterable[Rule] = CHAIN) -> list[Hit]:
    """Every hit, in chain order. A rule's exception (say, the database behind
    `recent_from_sender` is down) propagates: the pipeline must not ack what it did not judge."""
    return [hit for rule in chain if (hit := rule.check(headers, context)) is not None]


def verdict(hits: Iterable[Hit]) -> Verdict:
    """The strongest verdict the hits ask for. A hit from a rule missing from VERDICTS holds
    the message: an unknown rule must never let mail open a request or be answered."""
    found = [VERDICTS.get(hit.rule, Verdict.HOLD) for hit in hits]
    return max(found, key=_STRENGTH.__getitem__, default=Verdict.OPEN_OR_THREAD)
