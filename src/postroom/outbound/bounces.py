"""Delivery status notifications (RFC 3464) for email we sent: which item, which recipient,
and what the remote server said."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.parser import HeaderParser

from postroom.inbound.rules.own_mail import OUTBOX_HEADER

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True)
class FailedRecipient:
    address: str
    status: str  # the enhanced status code, e.g. 5.1.1
    diagnostic: str


@dataclass(frozen=True)
class Dsn:
    original_message_id: str | None
    outbox_id: int | None
    failed: list[FailedRecipient] = field(default_factory=list)


def _original(part: Message) -> Message | None:
    if part.get_content_type() == "text/rfc822-headers":
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
        return HeaderParser().parsestr(text)
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        first = inner[0] if isinstance(inner, list) and inner else None
        return first if isinstance(first, Message) else None
    return None


def _failed(part: Message) -> list[FailedRecipient]:
    blocks = part.get_payload()
    if not isinstance(blocks, list):
        return []
    found = []
    for block in blocks[1:]:  # the first block is about the message, the rest one a recipient
        if (
            not isinstance(block, Message)
            or str(block.get("Action", "")).lower().strip() != "failed"
        ):
            continue
        recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
        address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
        if address:
            found.append(
                FailedRecipient(
                    address,
                    str(block.get("Status", "")).strip(),
                    " ".join(str(block.get("Diagnostic-Code", "")).split()),
                )
            )
    return found


def read_dsn(raw: bytes) -> Dsn | None:
    """None when the email is no delivery status report we can read."""
    report = message_from_bytes(raw)
    if report.get_content_type() != "multipart/report":
        return None
    original: Message | None = None
    failed: list[FailedRecipient] = []
    for part in report.walk():
        if part.get_content_type() == "message/delivery-status":
            failed += _failed(part)
        elif original is None:
            original = _original(part)
    if original is None:
        return Dsn(None, None, failed)
    found = _MESSAGE_ID.search(str(original.get("Message-ID", "")))
    outbox = str(original.get(OUTBOX_HEADER, "")).strip()
    return Dsn(found.group(0) if found else None, int(outbox) if outbox.isdigit() else None, failed)
