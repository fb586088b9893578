"""Emails for tests, as the bytes a server would hold."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

_counter = 0


def email_from(
    sender: str,
    subject: str = "Hello",
    body: str = "Please help.",
    *,
    to: str = "desk@example.test",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    global _counter
    _counter += 1
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(1_790_000_000 + _counter)
    message["Message-ID"] = message_id or f"<m{_counter}.{abs(hash(subject))}@example.org>"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


def reply_to(original: bytes, sender: str, body: str = "Thanks!", **kwargs: object) -> bytes:
    from email import message_from_bytes, policy

    parent = message_from_bytes(original, policy=policy.default)
    headers = {"In-Reply-To": str(parent["Message-ID"]), "References": str(parent["Message-ID"])}
    extra = kwargs.pop("headers", None)
    if isinstance(extra, dict):
        headers.update(extra)
    return email_from(sender, "Re: " + str(parent["Subject"]), body, headers=headers)
