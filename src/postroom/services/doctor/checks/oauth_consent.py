"""An OAuth2 mailbox without a completed sign-in, without the scopes its protocols need, or
whose token could not be renewed: it has stopped already, or stops at its next renewal."""

from __future__ import annotations

from postroom.services.doctor.model import Finding, MailboxView, Snapshot

# What each protocol needs in the scopes asked for (matched at the end of each scope).
NEEDED = {
    ("microsoft", "imap"): ("IMAP.AccessAsUser.All",),
    ("microsoft", "pop3"): ("POP.AccessAsUser.All",),
    ("microsoft", "smtp"): ("SMTP.Send",),
    ("microsoft", "graph"): ("Mail.ReadWrite", "Mail.Send"),
    ("google", "imap"): ("mail.google.com/",),
    ("google", "pop3"): ("mail.google.com/",),
    ("google", "smtp"): ("mail.google.com/",),
}
RENEWAL_FAILED = ("needs-reconnect", "auth-failed")


def missing_scopes(mailbox: MailboxView) -> list[str]:
    words = mailbox.oauth_scopes.split()
    missing: list[str] = []
    if mailbox.oauth_provider == "microsoft" and "offline_access" not in words:
        missing.append("offline_access")
    for server in (mailbox.incoming, mailbox.outgoing):
        if server is None:
            continue
        for scope in NEEDED.get((mailbox.oauth_provider or "", server.protocol), ()):
            if not any(w.endswith(scope) for w in words) and scope not in missing:
                missing.append(scope)
    return missing


class OAuthConsent:
    name = "oauth-consent"
    description = "OAuth2 sign-in missing, scopes missing, or a token that failed to renew"

    def check(self, snapshot: Snapshot) -> list[Finding]:
        found = []
        for mailbox in snapshot.mailboxes:
            if mailbox.uses_password:
                continue
            problem = None
            missing = missing_scopes(mailbox)
            if not mailbox.oauth_signed_in:
                problem = "Nobody has signed in for this mailbox yet: there is no OAuth2 token."
            elif mailbox.state in RENEWAL_FAILED:
                problem = f"Its OAuth2 token could not be renewed: {mailbox.last_error or ''}"
            elif missing:
                problem = "The OAuth app does not ask for " + ", ".join(missing) + "."
            if problem is None:
                continue
            fix = f"Sign in again: `postroom mailbox connect {mailbox.address} --oauth-app NAME`"
            if missing:
                fix = (
                    "Add " + ", ".join(missing) + " to the OAuth app's scopes (and the "
                    "provider's consent), then " + fix[0].lower() + fix[1:]
                )
            found.append(
                Finding(
                    check=self.name,
                    subject=f"mailbox {mailbox.address}",
                    problem=problem.strip(),
                    fix=fix + ".",
                    due_at=snapshot.now,
                    mailbox_id=mailbox.id,
                    owner_id=mailbox.owner_id,
                )
            )
        return found
