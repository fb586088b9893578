"""Microsoft 365's refusals of a delegate working a shared mailbox, in words that name the
missing right and who grants it. Exchange keeps these rights, not the OAuth app: the app's
Mail.*.Shared scopes only let through what the delegate may do in Outlook themselves.

Graph answers 403 ErrorAccessDenied without Full Access (reading, or sendMail through the
shared mailbox, which keeps the Sent copy there) and 403 ErrorSendAsDenied without Send As or
Send on Behalf; Exchange Online's SMTP answers SendAsDenied in a 5.7.60 / 5.2.0 reply."""

from __future__ import annotations

from email.parser import BytesHeaderParser
from email.utils import parseaddr

from postroom.errors import MissingRight

ADMIN_CENTER = "Microsoft 365 admin center → Teams & groups → Shared mailboxes → {mailbox}"


def full_access(mailbox: str, delegate: str, doing: str) -> MissingRight:
    return MissingRight(
        f"{delegate} has no Full Access to the shared mailbox {mailbox}, so Microsoft 365 "
        f"refused to let them {doing}. An Exchange administrator grants it ("
        + ADMIN_CENTER.format(mailbox=mailbox)
        + f" → Read and manage, or `Add-MailboxPermission -Identity {mailbox} -User "
        f"{delegate} -AccessRights FullAccess`); if they have it, reconnect the mailbox so "
        "the sign-in asks for Mail.ReadWrite.Shared and Mail.Send.Shared."
    )


def send_right(mailbox: str, delegate: str, on_behalf: bool) -> MissingRight:
    if on_behalf:
        right, how = (
            "Send on Behalf",
            f"→ Send on behalf, or `Set-Mailbox {mailbox} -GrantSendOnBehalfTo "
            f'@{{Add="{delegate}"}}`',
        )
    else:
        right, how = (
            "Send As",
            f"→ Send as, or `Add-RecipientPermission -Identity {mailbox} -Trustee {delegate} "
            "-AccessRights SendAs`",
        )
    return MissingRight(
        f"{delegate} has no {right} right on the shared mailbox {mailbox}, so Microsoft 365 "
        f"refused to send mail from it. An Exchange administrator grants it ("
        + ADMIN_CENTER.format(mailbox=mailbox)
        + f" {how}); or change how this mailbox sends (send as / send on behalf) to the right "
        f"{delegate} has."
    )


def sends_on_behalf(raw: bytes) -> bool:
    """A Sender other than From: the delegate sends on behalf of the mailbox."""
    headers = BytesHeaderParser().parsebytes(raw)
    sender = parseaddr(str(headers.get("Sender", "")))[1].lower()
    return bool(sender) and sender != parseaddr(str(headers.get("From", "")))[1].lower()
