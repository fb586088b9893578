"""Who is acting: every service call names an actor, so rights and the audit log agree."""

from __future__ import annotations

from dataclasses import dataclass

from postroom.errors import PermissionDenied


@dataclass(frozen=True)
class Actor:
    label: str
    user_id: int | None = None
    is_admin: bool = False

    def require_admin(self, what: str) -> None:
        if not self.is_admin:
            raise PermissionDenied(
                f"Only administrators may {what}: ask a user with the manage administration "
                "permission."
            )


# The local operator at the command line: whoever can run the CLI can read the database anyway.
OPERATOR = Actor(label="cli", user_id=None, is_admin=True)

# postroom itself, on a schedule: purging held mail, renewing, notifying.
SYSTEM = Actor(label="postroom", user_id=None, is_admin=True)
