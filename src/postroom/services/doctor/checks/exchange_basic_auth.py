"""Exchange Online turns Basic authentication off: IMAP and POP3 since 2022, SMTP AUTH for
existing tenants from the end of December 2026. A password mailbox there stops working."""

from __future__ import annotations

from datetime import UTC, datetime

from postroom.services.doctor.model import Finding, MailboxView, ServerView, Snapshot

SMTP_BASIC_OFF = datetime(2026, 12, 31, tzinfo=UTC)
RECEIVE_BASIC_OFF = datetime(2022, 10, 1, tzinfo=UTC)
EXCHANGE_ONLINE = ("office365.com", "outlook.com", "office.com")


def is_exchange_online(server: ServerView | None) -> bool:
    host = server.host_lower if server else ""
    return any(host == d or host.endswith("." + d) for d in EXCHANGE_ONLINE)


class ExchangeBasicAuth:
    name = "exchange-basic-auth"
    description = "Password sign-in to Exchange Online, which Microsoft turns off"

    def check(self, snapshot: Snapshot) -> list[Finding]:
        found: list[Finding] = []
        for mailbox in snapshot.mailboxes:
            if not mailbox.uses_password:
                continue
            smtp = mailbox.outgoing is not None and mailbox.outgoing.protocol == "smtp"
            if mailbox.send_enabled and smtp and is_exchange_online(mailbox.outgoing):
                found.append(self._finding(mailbox, "SMTP", SMTP_BASIC_OFF))
            if mailbox.receive_enabled and is_exchange_online(mailbox.incoming):
                assert mailbox.incoming is not None
                found.append(
                    self._finding(mailbox, mailbox.incoming.protocol.upper(), RECEIVE_BASIC_OFF)
                )
        return found

    def _finding(self, mailbox: MailboxView, protocol: str, off: datetime) -> Finding:
        used_by = ""
        if mailbox.connections:
            used_by = f" (used by connection {', '.join(mailbox.connections)})"
        return Finding(
            check=self.name,
            subject=f"mailbox {mailbox.address} {protocol.lower()}",
            problem=(
                f"{protocol} with a password to Exchange Online{used_by}:"
                f" Microsoft turns Basic authentication off ({off:%d %B %Y})."
            ),
            fix=(
                "Move the mailbox to OAuth2: add a Microsoft OAuth app, then "
                f"`postroom mailbox connect {mailbox.address} --oauth-app NAME` (or use Graph)."
            ),
            due_at=off,
            mailbox_id=mailbox.id,
            owner_id=mailbox.owner_id,
        )
