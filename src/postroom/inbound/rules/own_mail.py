"""Our own mail coming back (a copy to one of our mailboxes, a forward, a list echo) must not
open a request or trigger automatic mail, or postroom answers itself.

From alone does not decide: a person may write from one postroom mailbox to another, and that is
ordinary work. Ours is mail with the outbox mark, or mail from one of our addresses that a
machine submitted (any Auto-Submitted other than "no", as our automatic mail always says).
"""

from __future__ import annotations

from postroom.domain.messages import Headers, Hit
from postroom.inbound.rules.base import RuleContext, auto_submitted

OUTBOX_HEADER = "X-Postroom-Outbox"  # outbound mail carries it, with the outbox item's id


class OwnMail:
    name = "own-mail"
    description = "Mail postroom sent: the outbox mark, or an own address with Auto-Submitted"

    def check(self, msg: Headers, context: RuleContext) -> Hit | None:
        marks = msg.all(OUTBOX_HEADER)
        if marks:
            return Hit(self.name, f"{OUTBOX_HEADER}: {marks[0].strip()}".rstrip(": "))
        submitted = auto_submitted(msg)
        if msg.sender.lower() in context.own_addresses and submitted not in ("", "no"):
            return Hit(self.name, f"from own mailbox {msg.sender} with Auto-Submitted: {submitted}")
        return None
