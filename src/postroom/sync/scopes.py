"""The OAuth scopes contacts and calendar sync needs from Microsoft Graph and Google, and the
error a mailbox gets when its sign-in did not grant them: the provider answers 403, and the
only remedy is a new sign-in that asks for them (which `scopes_for` does once sync is on)."""

from __future__ import annotations

from postroom.errors import AuthFailed
from postroom.sync.source import RecordKind

# Microsoft Graph: delegated Contacts.ReadWrite and Calendars.ReadWrite (read and write).
GRAPH: dict[RecordKind, str] = {
    "contact": "https://graph.microsoft.com/Contacts.ReadWrite",
    "event": "https://graph.microsoft.com/Calendars.ReadWrite",
}
# Google: the People API's contacts and the Calendar API's events.
GOOGLE: dict[RecordKind, str] = {
    "contact": "https://www.googleapis.com/auth/contacts",
    "event": "https://www.googleapis.com/auth/calendar.events",
}
KINDS: dict[str, RecordKind] = {"contacts": "contact", "calendar": "event"}


class ScopeMissing(AuthFailed):
    """The mailbox's token does not carry the permission sync needs."""

    code = "sync-scope-missing"
