"""Mailing-list and bulk mail must never open a request or be answered automatically.

A list message is not an auto-reply (a person may have written it), so it has its own name:
the console can tell "list mail" from "out-of-office", and an admin can filter held list mail
on its own. It is treated like an auto-reply all the same (see chain.py): it may join the thread
of the request it answers, and nothing is ever sent back to a list (RFC 2369, RFC 2919).
"""

from __future__ import annotations

from postroom.domain.messages import Headers, Hit
from postroom.inbound.rules.base import RuleContext

LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Post")


class ListMail:
    name = "list-mail"
    description = "List-Id, List-Unsubscribe or List-Post: mail from a list or a bulk sender"

    def check(self, msg: Headers, context: RuleContext) -> Hit | None:
        for header in LIST_HEADERS:
            values = msg.all(header)
            if values:
                return Hit(self.name, f"list mail: {header} {values[0].strip()}".rstrip())
        return None
