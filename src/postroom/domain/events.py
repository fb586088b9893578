"""The events a webhook may subscribe to (services/events.py writes them). Here, apart from the
code that writes them, so that the CLI's webhook commands list them without loading the ORM."""

from __future__ import annotations

EVENTS = (
    "request.opened",
    "request.updated",
    "request.moved",
    "message.held",
    "outbox.sent",
    "outbox.failed",
    "outbox.bounced",
    "mailbox.state_changed",
    "doctor.warning",
    "contact.changed",
    "activity.changed",
)
ALL = "*"
