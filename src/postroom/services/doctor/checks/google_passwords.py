"""Google refuses password sign-in for Workspace accounts since September 2024 (and consumer
accounts keep only app passwords): such a mailbox works until Google refuses it."""

from __future__ import annotations

from postroom.services.doctor.model import Finding, Snapshot

GOOGLE_HOSTS = ("gmail.com", "googlemail.com", "google.com")


def _google(host: str) -> bool:
    return any(host == d or host.endswith("." + d) for d in GOOGLE_HOSTS)


class GooglePasswords:
    name = "google-password"
    description = "A Google account signing in with a password instead of OAuth2"

    def check(self, snapshot: Snapshot) -> list[Finding]:
        found = []
        for mailbox in snapshot.mailboxes:
            servers = [s for s in (mailbox.incoming, mailbox.outgoing) if s is not None]
            if mailbox.uses_password and any(_google(s.host_lower) for s in servers):
                found.append(
                    Finding(
                        check=self.name,
                        subject=f"mailbox {mailbox.address}",
                        problem="Signs in to Google with a password; Google turned this off for "
                        "Workspace in September 2024 and allows only app passwords elsewhere.",
                        fix="Add a Google OAuth app and run `postroom mailbox connect "
                        f"{mailbox.address} --oauth-app NAME`.",
                        due_at=snapshot.now,
                        mailbox_id=mailbox.id,
                        owner_id=mailbox.owner_id,
                    )
                )
        return found
