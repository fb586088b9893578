"""From a draft to the exact bytes an outbox row keeps and every retry sends.

Pure: no network, no database. `check` refuses a bad draft before anything is queued, so a
worker never meets an email it cannot send, and nobody can smuggle headers in through a field.
`compose` runs once, at enqueue, with the Message-ID fixed there (invariant 7).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import Address, BaseHeader, Group, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from typing import ClassVar, Literal

from inscriptis import get_text  # type: ignore[import-untyped, unused-ignore]

from postroom.domain import validate
from postroom.domain.messages import SUBJECT_TOKEN
from postroom.errors import InvalidInput
from postroom.inbound.rules.own_mail import OUTBOX_HEADER

MAX_RECIPIENTS = 500
AUTO_SUBMITTED = ("auto-replied", "auto-generated")  # RFC 3834; invariant 3
LARGEST_REQUEST_ID = 10**12 - 1  # the most digits the token holds

# Every character str.splitlines() breaks on, and NUL: the stdlib's header code splits on them
# too, so any of them in a header value could start a header of the sender's choosing.
_LINE_BREAK = re.compile("[\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
_MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
_TOKEN_WITH_SPACE = re.compile(r"\s*" + SUBJECT_TOKEN.pattern)
_LABELS = {
    "sender": "sender address",
    "sender_name": "sender name",
    "delegate": "Sender address",
    "subject": "subject",
    "to": "To address",
    "cc": "Cc address",
    "bcc": "Bcc address",
    "reply_to": "Reply-To address",
    "in_reply_to": "In-Reply-To Message-ID",
    "references": "References Message-ID",
    "attachments": "attachment file name or type",
}


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "type/subtype", no parameters
    data: bytes


@dataclass(frozen=True, kw_only=True)
class Draft:
    """An email as a person or a process wrote it; `check` makes it safe to queue."""

    sender: str  # addr-spec of the sending mailbox
    sender_name: str = ""
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()  # in the envelope only, never in a header
    reply_to: str | None = None
    subject: str = ""
    text: str = ""
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    in_reply_to: str | None = None  # the Message-ID answered
    references: tuple[str, ...] = ()  # the thread's Message-IDs, oldest first
    request_id: int | None = None  # its token goes into the subject, so replies find the request
    auto: str | None = None  # "auto-replied" or "auto-generated": mail no person wrote
    # Who sends on behalf of `sender` (a delegate of a shared mailbox): the Sender header,
    # RFC 5322 3.6.2. Set by the outbox from the mailbox, never by the person writing.
    delegate: str | None = None


class _MessageIdList(UnstructuredHeader, BaseHeader):
    """In-Reply-To and References hold msg-ids, which must never become encoded-words: the
    stdlib folds a long unstructured value that way, and the recipient's threading breaks."""

    max_count: ClassVar[Literal[1] | None] = 1

    def fold(self, *, policy: Policy) -> str:
        limit = policy.max_line_length
        first, *rest = str(self).split() or [""]
        lines = [f"{self.name}: {first}"]
        for message_id in rest:  # one id is never split, however long: it stays whole
            if limit and len(lines[-1]) + 1 + len(message_id) > limit:
                lines.append(f" {message_id}")
            else:
                lines[-1] += f" {message_id}"
        return policy.linesep.join(lines) + policy.linesep


def _header_registry() -> HeaderRegistry:
    registry = HeaderRegistry()
    registry.map_to_type("in-reply-to", _MessageIdList)
    registry.map_to_type("references", _MessageIdList)
    return registry


POLICY = policy.SMTP.clone(header_factory=_header_registry())  # CRLF, as SMTP sends it
# An address with a UTF-8 local part is written as UTF-8 (RFC 6532): such mail goes only to a
# server offering SMTPUTF8, which outbound/sender.py checks before sending anything.
UTF8_POLICY = POLICY.clone(utf8=True)


def check(draft: Draft) -> Draft:
    """Refuse what must never be queued; return the draft with its values normalised.

    Each refusal is an `InvalidInput` with `field` set to the Draft field to fix.
    """
    # Line breaks first: the address checks strip whitespace, which would hide a trailing CRLF.
    for field, value in _header_values(draft):
        if _LINE_BREAK.search(value):
            raise InvalidInput(
                f"The {_LABELS[field]} {value!r} contains a line break or NUL character, which "
                "would let it add headers of its own: remove it.",
                field=field,
            )
    checked = replace(
        draft,
        sender=validate.address(draft.sender, "sender"),
        sender_name=draft.sender_name.strip(),
        to=_addresses(draft.to, "to"),
        cc=_addresses(draft.cc, "cc"),
        bcc=_addresses(draft.bcc, "bcc"),
        reply_to=validate.address(draft.reply_to, "reply_to") if draft.reply_to else None,
        delegate=validate.address(draft.delegate, "delegate") if draft.delegate else None,
        in_reply_to=_message_id(draft.in_reply_to, "in_reply_to") if draft.in_reply_to else None,
        references=tuple(_message_id(r, "references") for r in _sequence(draft.references)),
        attachments=tuple(_attachment(a) for a in draft.attachments),
        request_id=_request_id(draft.request_id),
        auto=_auto(draft.auto),
    )
    count = len(recipients(checked))
    if count == 0:
        raise InvalidInput(
            "The email has no recipient: add at least one To, Cc or Bcc address.", field="to"
        )
    if count > MAX_RECIPIENTS:
        raise InvalidInput(
            f"The email has {count} recipients; one email may have at most {MAX_RECIPIENTS}: "
            "send it in several, or to a mailing list.",
            field="to",
        )
    return checked


def recipients(draft: Draft) -> list[str]:
    """The SMTP envelope: To, Cc and Bcc, each address once, in order (of a checked draft)."""
    seen: set[str] = set()
    envelope: list[str] = []
    for address in (*draft.to, *draft.cc, *draft.bcc):
        if address.lower() not in seen:  # Ann@x and ann@x are one mailbox everywhere in practice
            seen.add(address.lower())
            envelope.append(address)
    return envelope


def new_message_id(sender: str) -> str:
    """Made once, when the email is queued (invariant 7): retries send the same id, so a
    recipient whose server already took one copy can recognise the next as a duplicate."""
    domain = validate.address(sender, "sender").rpartition("@")[2]
    return f"<{uuid.uuid4().hex}@{domain}>"


def subject_with_token(subject: str, request_id: int | None) -> str:
    """The subject carrying `[#N]` first, so a reply finds request N even without its headers.

    Tokens of other requests are removed: routing reads the first token, and a forwarded
    subject would otherwise send the replies to the request it came from.
    """
    if request_id is None:
        return subject
    first = SUBJECT_TOKEN.search(subject)
    if first is not None and int(first.group(1)) == request_id:
        return subject
    bare = _TOKEN_WITH_SPACE.sub("", subject).strip()
    return f"{bare} [#{request_id}]".lstrip()


def compose(
    draft: Draft, message_id: str, outbox_id: int, *, date: datetime | None = None
) -> bytes:
    """The RFC 5322 bytes of the email, CRLF line ends, ready for DATA.

    The draft is checked again here, so no path can compose an unchecked one. `date` defaults
    to now; composing happens once, at enqueue, so every retry carries the same Date.
    """
    draft = check(draft)
    addresses = (draft.sender, draft.reply_to or "", draft.delegate or "", *recipients(draft))
    msg = EmailMessage(policy=POLICY if all(a.isascii() for a in addresses) else UTF8_POLICY)
    msg["From"] = _address(draft.sender, draft.sender_name)
    if draft.delegate and draft.delegate != draft.sender:
        msg["Sender"] = _address(draft.delegate)
    if draft.to:
        msg["To"] = [_address(a) for a in draft.to]
    else:  # Bcc only: some filters score a missing To as spam
        msg["To"] = Group("undisclosed-recipients")
    if draft.cc:
        msg["Cc"] = [_address(a) for a in draft.cc]
    if draft.reply_to:
        msg["Reply-To"] = _address(draft.reply_to)
    msg["Subject"] = subject_with_token(draft.subject, draft.request_id)
    msg["Date"] = date or datetime.now(UTC)
    msg["Message-ID"] = _message_id(message_id, "message_id")
    if draft.in_reply_to:
        msg["In-Reply-To"] = draft.in_reply_to
    references = list(draft.references)
    if draft.in_reply_to and references[-1:] != [draft.in_reply_to]:
        references.append(draft.in_reply_to)  # RFC 5322 3.6.4: the parent's id comes last
    if references:
        msg["References"] = " ".join(references)
    if draft.auto:
        msg["Auto-Submitted"] = draft.auto
    msg[OUTBOX_HEADER] = str(outbox_id)  # our own mail coming back is recognised by this mark
    _set_body(msg, draft)
    return msg.as_bytes()


def _address(spec: str, name: str = "") -> Address:
    """From a checked addr-spec; built from its parts, as parsing it again would refuse a UTF-8
    local part (RFC 6531) that the UTF-8 policy writes out as it is."""
    local, _, domain = spec.rpartition("@")
    return Address(name, username=local, domain=domain)


def _set_body(msg: EmailMessage, draft: Draft) -> None:
    text = draft.text
    if draft.html and not text.strip():
        # HTML-only mail scores as spam and shows nothing to text-only readers.
        text = str(get_text(draft.html)).strip() + "\n"
    msg.set_content(text)
    if draft.html:
        msg.add_alternative(draft.html, subtype="html")
    for attachment in draft.attachments:
        maintype, subtype = attachment.content_type.split("/")
        if (maintype, subtype) == ("message", "rfc822"):
            # RFC 2046 forbids base64 for message/rfc822, which bytes would get.
            inner = message_from_bytes(attachment.data, policy=POLICY)
            msg.add_attachment(inner, filename=attachment.filename)
        else:
            msg.add_attachment(
                attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
            )


def _header_values(draft: Draft) -> Iterator[tuple[str, str]]:
    yield "sender", draft.sender
    yield "sender_name", draft.sender_name
    yield "subject", draft.subject
    for field in ("to", "cc", "bcc", "references"):
        for value in _sequence(getattr(draft, field)):
            yield field, value
    for field in ("reply_to", "in_reply_to", "delegate"):
        if value := getattr(draft, field):
            yield field, value
    for attachment in draft.attachments:
        yield "attachments", attachment.filename
        yield "attachments", attachment.content_type


def _sequence(values: tuple[str, ...] | str) -> tuple[str, ...]:
    """A bare string is one value, not a tuple of characters (forms and JSON send either)."""
    return (values,) if isinstance(values, str) else tuple(values)


def _addresses(values: tuple[str, ...], field: str) -> tuple[str, ...]:
    return tuple(validate.address(v, field) for v in _sequence(values))


def usable_message_id(value: str | None) -> str | None:
    """A received email's Message-ID if a reply can name it, else None: an odd one (`<">`)
    from someone else's mail client must never stop the reply, only its threading header."""
    candidate = (value or "").strip()
    return candidate if candidate.isascii() and _MESSAGE_ID.fullmatch(candidate) else None


def _message_id(value: str, field: str) -> str:
    candidate = value.strip()
    if not _MESSAGE_ID.fullmatch(candidate):
        raise InvalidInput(
            f"{value!r} is not a Message-ID: write it as <unique-part@domain>, one per value.",
            field=field,
        )
    return candidate


def _attachment(attachment: Attachment) -> Attachment:
    filename = attachment.filename.strip()
    content_type = attachment.content_type.strip().lower()
    if not filename:
        raise InvalidInput("An attachment has no file name: give it one.", field="attachments")
    if not _MEDIA_TYPE.fullmatch(content_type):
        raise InvalidInput(
            f"The type {attachment.content_type!r} of {filename!r} is not a media type: write "
            "it as type/subtype, such as application/pdf, without parameters.",
            field="attachments",
        )
    if content_type.startswith("multipart/") or (
        content_type.startswith("message/") and content_type != "message/rfc822"
    ):
        raise InvalidInput(
            f"{filename!r} cannot be attached as {content_type}: attach it as "
            "application/octet-stream.",
            field="attachments",
        )
    return replace(attachment, filename=filename, content_type=content_type)


def _request_id(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= LARGEST_REQUEST_ID:
        raise InvalidInput(
            f"Request {value} does not exist: request numbers run from 1 to {LARGEST_REQUEST_ID}.",
            field="request_id",
        )
    return value


def _auto(value: str | None) -> str | None:
    cleaned = (value or "").strip().lower()
    if not cleaned:
        return None
    if cleaned not in AUTO_SUBMITTED:
        raise InvalidInput(
            f"Auto-Submitted {value!r} is not one postroom sends: use "
            f"{' or '.join(AUTO_SUBMITTED)}, or none for mail a person wrote.",
            field="auto",
        )
    return cleaned
