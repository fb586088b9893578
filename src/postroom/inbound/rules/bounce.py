"""Reports about delivery must never open a request or be answered: answering one loops.

Any multipart/report is a machine's report (RFC 6522): a delivery status notification
(RFC 3464) or a read receipt (RFC 8098, disposition-notification) are the common ones. Servers
that do not send a proper DSN are recognised by the sender (mailer-daemon, postmaster) or by the
null return path `<>` together with a bounce subject; the null path alone is not enough, since
some newsletters use it too.
"""

from __future__ import annotations

from postroom.domain.messages import Headers, Hit
from postroom.inbound.rules.base import RuleContext

BOUNCE_SENDERS = frozenset({"mailer-daemon", "postmaster"})
BOUNCE_SUBJECTS = (
    "undeliverable",
    "delivery status notification",
    "undelivered mail returned to sender",
    "failure notice",
    "mail delivery failed",
    "returned mail",
    "delivery failure",
)


class Bounce:
    name = "bounce"
    description = "Delivery reports (multipart/report), mailer-daemon, null return path + subject"

    def check(self, msg: Headers, context: RuleContext) -> Hit | None:
        if msg.content_type == "multipart/report":
            kind = msg.report_type or "unknown"
            return Hit(self.name, f"multipart/report; report-type={kind}")
        local_part = msg.sender.rpartition("@")[0]
        if local_part.lower() in BOUNCE_SENDERS:
            return Hit(self.name, f"sent by {msg.sender}")
        if not msg.sender and (bare := _bare_bounce_sender(msg.header("From"))):
            return Hit(self.name, f"sent by {bare}")
        subject = msg.subject.lower()
        null_path = msg.header("Return-Path").replace(" ", "") == "<>"
        if null_path and any(marker in subject for marker in BOUNCE_SUBJECTS):
            return Hit(self.name, f"null return path <> and subject {msg.subject.strip()!r}")
        return None


def _bare_bounce_sender(from_header: str) -> str:
    """`MAILER-DAEMON` when a From names it without a domain (`<MAILER-DAEMON>`, as some
    sendmail setups write): that is no valid address, so there is no requester to match."""
    for word in from_header.replace("<", " ").replace(">", " ").split():
        if word.lower() in BOUNCE_SENDERS:
            return word
    return ""
