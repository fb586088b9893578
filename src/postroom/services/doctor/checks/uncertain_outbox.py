"""Emails whose send was cut off after the end of DATA: maybe delivered, never resent, and a
person has to find out."""

from __future__ import annotations

from postroom.services.doctor.model import Finding, Snapshot


class UncertainOutbox:
    name = "outbox-uncertain"
    description = "Outbox items that may or may not have been delivered"

    def check(self, snapshot: Snapshot) -> list[Finding]:
        by_id = {m.id: m for m in snapshot.mailboxes}
        found = []
        for mailbox_id, count in sorted(snapshot.uncertain.items()):
            mailbox = by_id.get(mailbox_id)
            found.append(
                Finding(
                    check=self.name,
                    subject=f"mailbox {mailbox.address}" if mailbox else "outbox",
                    problem=f"{count} email(s) may or may not have been delivered (the "
                    "connection broke after the message was sent).",
                    fix="Ask the recipients, then `postroom outbox retry ID` for those that did "
                    "not arrive (`postroom outbox list --state uncertain`).",
                    due_at=snapshot.now,
                    mailbox_id=mailbox_id if mailbox else None,
                    owner_id=mailbox.owner_id if mailbox else None,
                )
            )
        return found
