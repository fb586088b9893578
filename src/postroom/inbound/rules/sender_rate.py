"""A cap on mail from one sender in the window: the backstop when loop detection misses.

Two auto-responders that mark nothing still stop here after a few rounds; the excess is held,
visible and reprocessable, never dropped. Mail without a readable sender is not counted (it
would pool every such message under one key), and a limit of 0 or less turns the cap off.
"""

from __future__ import annotations

from postroom.domain.messages import Headers, Hit
from postroom.inbound.rules.base import RuleContext


class SenderRate:
    name = "sender-rate"
    description = "Too many messages from one sender in the window"

    def check(self, msg: Headers, context: RuleContext) -> Hit | None:
        if not msg.sender or context.sender_rate_limit <= 0:
            return None
        recent = context.recent_from_sender(msg.sender)
        if recent < context.sender_rate_limit:
            return None
        return Hit(
            self.name,
            f"{recent} messages from {msg.sender} in the window; the limit is "
            f"{context.sender_rate_limit}",
        )
