"""Mail a machine wrote in answer to ours must never open a request or be answered (RFC 3834).

X-Auto-Response-Suppress is a *request* Exchange adds to mail it sends ("do not auto-answer
this"), not a sign that the mail is an auto-reply: Outlook puts it on meeting requests and other
mail people write. So it counts only with a second sign that Exchange generated the message: an
out-of-office subject or an X-MS-Exchange-Generated-* header. Outlook's own out-of-office replies
also carry Auto-Submitted, checked first; the pair catches the servers that leave it out.
"""

from __future__ import annotations

from postroom.domain.messages import Headers, Hit
from postroom.inbound.rules.base import RuleContext, auto_submitted

BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Reply")
SUPPRESS_AUTO = frozenset({"all", "oof", "autoreply"})
OUT_OF_OFFICE_SUBJECTS = ("automatic reply:", "out of office", "automatische antwort:")
EXCHANGE_GENERATED = "x-ms-exchange-generated"


class AutoReply:
    name = "auto-reply"
    description = "Auto-Submitted, Precedence, X-Autoreply, and Exchange's out-of-office marks"

    def check(self, msg: Headers, context: RuleContext) -> Hit | None:
        submitted = auto_submitted(msg)
        if submitted not in ("", "no"):
            return Hit(self.name, f"Auto-Submitted: {submitted}")
        precedence = msg.header("Precedence").strip().lower()
        if precedence in BULK_PRECEDENCE:
            return Hit(self.name, f"Precedence: {precedence}")
        for header in AUTOREPLY_HEADERS:
            if msg.all(header):
                return Hit(self.name, f"{header} present")
        suppress = {
            flag.strip().lower()
            for value in msg.all("X-Auto-Response-Suppress")
            for flag in value.split(",")
        }
        sign = _exchange_generated(msg) if suppress & SUPPRESS_AUTO else ""
        if sign:
            return Hit(self.name, f"Exchange out-of-office: X-Auto-Response-Suppress and {sign}")
        return None


def _exchange_generated(msg: Headers) -> str:
    """The sign that Exchange wrote the message itself, or "" when there is none."""
    if msg.subject.strip().lower().startswith(OUT_OF_OFFICE_SUBJECTS):
        return f"subject {msg.subject.strip()!r}"
    generated = [name for name in msg.raw_headers if name.startswith(EXCHANGE_GENERATED)]
    return generated[0] if generated else ""
