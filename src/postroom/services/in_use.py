"""One refusal for removing what mailboxes stand on (a server, an OAuth app): it names them,
because an administrator must know which mailboxes to move before trying again."""

from __future__ import annotations

from postroom.errors import Conflict
from postroom.storage.models import Mailbox


def refuse_removal(what: str, users: list[Mailbox], advice: str) -> None:
    if users:
        names = ", ".join(m.address for m in users)
        raise Conflict(f"{what} is still used by {len(users)} mailbox(es): {names}. {advice}")
