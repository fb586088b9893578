"""Mail the server holds that postroom never stored, found by the daily comparison."""

from __future__ import annotations

from postroom.services.doctor.model import Finding, Snapshot


class Gaps:
    name = "gap"
    description = "Emails on the server that never became a request"

    def check(self, snapshot: Snapshot) -> list[Finding]:
        by_id = {m.id: m for m in snapshot.mailboxes}
        found = []
        for mailbox_id, missing in sorted(snapshot.gaps.items()):
            mailbox = by_id.get(mailbox_id)
            if not missing or mailbox is None:
                continue
            found.append(
                Finding(
                    check=self.name,
                    subject=f"mailbox {mailbox.address}",
                    problem=f"{missing} email(s) on the server were never stored by postroom.",
                    fix=f"`postroom mailbox check {mailbox.address}` lists them; `postroom "
                    f"mailbox backfill {mailbox.address} --since DATE` takes them in.",
                    due_at=snapshot.now,
                    mailbox_id=mailbox.id,
                    owner_id=mailbox.owner_id,
                )
            )
        return found
