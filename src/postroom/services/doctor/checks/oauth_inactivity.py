"""Refresh tokens die when unused: Microsoft's after 90 days of inactivity, Google's after six
months. postroom renews its tokens while it runs; a token not renewed for a day means nothing
renews it, and the date it dies is worth knowing before it does."""

from __future__ import annotations

from datetime import timedelta

from postroom.services.doctor.model import Finding, Snapshot

ACCESS_TOKEN_LIFETIME = timedelta(hours=1)  # both providers; the renewal was this long before
INACTIVITY_LIMIT = {"microsoft": timedelta(days=90), "google": timedelta(days=180)}
QUIET = timedelta(days=1)


class OAuthInactivity:
    name = "oauth-inactivity"
    description = "A refresh token that expires when left unused"

    def check(self, snapshot: Snapshot) -> list[Finding]:
        found = []
        for mailbox in snapshot.mailboxes:
            limit = INACTIVITY_LIMIT.get(mailbox.oauth_provider or "")
            if limit is None or mailbox.oauth_expires_at is None:
                continue
            renewed = mailbox.oauth_expires_at - ACCESS_TOKEN_LIFETIME
            if snapshot.now - renewed < QUIET:
                continue
            found.append(
                Finding(
                    check=self.name,
                    subject=f"mailbox {mailbox.address}",
                    problem=f"Its OAuth2 token was last renewed {renewed:%Y-%m-%d}; the provider "
                    f"revokes refresh tokens unused for {limit.days} days.",
                    fix="Keep a worker running (it renews tokens), or sign in again before "
                    f"then: `postroom mailbox connect {mailbox.address} --oauth-app NAME`.",
                    due_at=renewed + limit,
                    mailbox_id=mailbox.id,
                    owner_id=mailbox.owner_id,
                )
            )
        return found
