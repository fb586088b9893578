"""A receiving mailbox not reached for longer than three poll intervals: mail is waiting
somewhere and nobody sees it."""

from __future__ import annotations

from datetime import timedelta

from postroom.services.doctor.model import Finding, Snapshot

INTERVALS = 3


class StaleMailboxes:
    name = "stale-mailbox"
    description = "No successful fetch for longer than three poll intervals"

    def check(self, snapshot: Snapshot) -> list[Finding]:
        found = []
        for mailbox in snapshot.mailboxes:
            if not mailbox.receive_enabled or mailbox.incoming is None:
                continue
            if mailbox.state == "disabled":
                continue
            since = mailbox.last_success_at or mailbox.created_at
            if snapshot.now - since <= timedelta(seconds=INTERVALS * mailbox.poll_interval):
                continue
            last = (
                f"last fetched {mailbox.last_success_at:%Y-%m-%d %H:%M} UTC"
                if mailbox.last_success_at
                else "never fetched"
            )
            error = f": {mailbox.last_error}" if mailbox.last_error else ""
            found.append(
                Finding(
                    check=self.name,
                    subject=f"mailbox {mailbox.address}",
                    problem=f"No mail fetched for longer than {INTERVALS} poll intervals "
                    f"({last}; state {mailbox.state}{error}).",
                    fix="Run `postroom mailbox test "
                    f"{mailbox.address}` and fix the step that fails; check that a worker runs.",
                    due_at=snapshot.now,
                    mailbox_id=mailbox.id,
                    owner_id=mailbox.owner_id,
                )
            )
        return found
