"""A webhook receiver that keeps refusing: events pile up and are given up after three days."""

from __future__ import annotations

from postroom.services.doctor.model import Finding, Snapshot


class WebhooksFailing:
    name = "webhook-failing"
    description = "Webhook deliveries failing or given up"

    def check(self, snapshot: Snapshot) -> list[Finding]:
        found = []
        for hook in snapshot.webhooks:
            if not hook.failed and not hook.retrying:
                continue
            due = snapshot.now if hook.failed or hook.next_deadline is None else hook.next_deadline
            found.append(
                Finding(
                    check=self.name,
                    subject=f"webhook {hook.name}",
                    problem=f"{hook.failed} delivery(ies) given up lately, {hook.retrying} "
                    "retrying after repeated failures.",
                    fix="Fix the receiver, then `postroom webhook redeliver ID` for the given-up "
                    "ones (`postroom webhook deliveries --state failed`).",
                    due_at=due,
                )
            )
        return found
