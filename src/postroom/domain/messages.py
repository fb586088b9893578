"""A message as the inbound pipeline sees it, and the verdicts rules give about it.

Routing needs only headers, so `Headers` is what is parsed up front (fast, compat32); the body
(`Body`: text, HTML as text, attachments) is parsed on demand from the stored raw bytes, with
policy.default and a fallback. Nothing here touches the network or the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

# "[#123]" in a subject names request 123: outbound mail writes it, inbound routing reads it.
SUBJECT_TOKEN = re.compile(r"\[#(\d{1,12})\]")


@dataclass(frozen=True)
class Headers:
    """The decoded headers of one email, and facts derived from them that routing needs."""

    message_id: str  # "<id@host>"; a synthetic "<sha256@postroom.invalid>" when absent
    message_id_present: bool
    in_reply_to: tuple[str, ...]  # Message-IDs, each "<...>"
    references: tuple[str, ...]
    subject: str
    sender: str  # the From addr-spec, lower-cased domain; "" when absent or unreadable
    sender_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    date: datetime | None
    content_type: str  # "multipart/report", lower case, no parameters
    report_type: str  # the report-type parameter of multipart/report, lower case, or ""
    size: int  # bytes of the raw message
    sha256: str  # hex digest of the raw bytes
    raw_headers: dict[str, tuple[str, ...]] = field(repr=False)  # lower-case name -> values
    defects: tuple[str, ...] = ()  # what could not be read, for the held-message view

    def header(self, name: str) -> str:
        """The first value of a header, decoded, or "" when absent."""
        values = self.raw_headers.get(name.lower())
        return values[0] if values else ""

    def all(self, name: str) -> tuple[str, ...]:
        return self.raw_headers.get(name.lower(), ())


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Body:
    text: str  # the text/plain part, or the HTML converted to text (inscriptis)
    html: str | None  # the HTML part, unsanitised; the console sanitises before showing it
    attachments: tuple[Attachment, ...]
    defects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    """A rule that matched, and why: recorded on the message so the console can explain it."""

    rule: str
    reason: str
