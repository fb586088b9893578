"""Turn raw email bytes into `Headers` (for routing) and `Body` (for display), whatever arrives.

Mail in the wild is often broken: raw 8-bit header bytes, charsets that are unknown or lie,
MIME structures with missing boundaries. Losing such a message, or crashing the batch it came in,
breaks "never lose mail", so nothing here raises on bad input: what cannot be read becomes an
entry in `defects` and a sensible empty value, and the pipeline decides what to do with it.

Headers are parsed with compat32 and only as far as the blank line, because every fetched message
goes through here and compat32 is about twenty times faster than policy.default; the few values
routing needs are then decoded by hand. The body is parsed on demand with policy.default, with a
compat32 fallback, since only a person reading the message needs it.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email import policy
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime

from charset_normalizer import from_bytes
from inscriptis import get_text  # type: ignore[import-untyped, unused-ignore]

from postroom.domain.messages import Attachment, Body, Headers

__all__ = ["is_unparseable", "parse_body", "parse_headers"]

MAX_HEADER_CHARS = 10_000
"""Longer header values are cut: no routing decision needs more, and the stored copy of the raw
bytes keeps the rest, while a 100 KB value would otherwise cost time in every rule."""

MAX_HEADER_BYTES = 1 << 20
"""A header section with no blank line within this many bytes is read only this far, so a large
file that is not an email does not get split into lines just to find no headers in it."""

_HEADER_PARSER = BytesParser(policy=policy.compat32)  # stateless: safe to share across threads
_LATIN_LABELS = frozenset({"iso8859-1", "cp1252", "iso8859-15", "latin-1"})
_CHARSET_ALIASES = {"iso-8859-8-i": "iso-8859-8", "iso-8859-6-i": "iso-8859-6"}
_ID_TOKEN = re.compile(r"<([^<>]*)>")
_REPORT_TYPE = re.compile(r';\s*report-type\s*=\s*(?:"([^"]*)"|([^;\s]*))', re.IGNORECASE)
_ADDR_SPEC = r"[^\s<>()\[\]\",;:\\@]+@[^\s<>()\[\]\",;:\\@]+"
_MAILBOX = re.compile(
    r'\s*(?:(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<phrase>[^"<>()\[\],;:\\@]*?))'
    rf"\s*<(?P<angle>{_ADDR_SPEC})>|(?P<bare>{_ADDR_SPEC}))\s*(?:,|\Z)"
)
_ESCAPED = re.compile(r"\\(.)")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TAG = re.compile(r"<[^>]*>")
_HIGH_BYTES = bytes(range(128))  # deleting these leaves the 8-bit bytes
_NOT_ASCII_LETTERS = bytes(b for b in range(256) if not chr(b).isascii() or not chr(b).isalpha())


def parse_headers(raw: bytes) -> Headers:
    """Read what routing needs from a message's header section; never raises."""
    digest = hashlib.sha256(raw).hexdigest()
    defects: list[str] = []
    items: list[tuple[str, str]] = []
    try:
        parsed = _HEADER_PARSER.parsebytes(_header_section(raw, defects), headersonly=True)
        items = list(parsed.raw_items())
        defects.extend(f"header section: {type(d).__name__}" for d in parsed.defects)
    except Exception as exc:  # the parser has failed on hostile input before
        defects.append(f"header section unreadable: {type(exc).__name__}: {exc}")
    if not items:
        defects.append("no headers found")

    # Stage one (unfolded, 8-bit recovered) feeds the structured fields: RFC 2047 words must not
    # be decoded before addresses are split, or a display name like "Doe, John" splits in two.
    plain: dict[str, list[str]] = {}
    decoded: dict[str, list[str]] = {}
    for name, value in items:
        key = name.lower()  # the parser only takes names without spaces
        if len(value) > MAX_HEADER_CHARS or not value.isascii() or "\n" in value:
            value = _unfold(key, value, defects)
        elif "\r" in value:
            value = value.replace("\r", "")
        if key in plain:
            plain[key].append(value)
            decoded[key].append(_decode_words(key, value, defects) if "=?" in value else value)
        else:
            plain[key] = [value]
            decoded[key] = [_decode_words(key, value, defects) if "=?" in value else value]

    message_id = _first_id(plain.get("message-id", ()), defects)
    sender, sender_name = "", ""
    for key in ("from", "sender", "return-path"):
        if key in plain:
            found = _addresses(key, plain[key], defects)
            if found:
                sender_name, sender = found[0]
                break
            if key == "from":
                defects.append("from: no address could be read")
    content_type, report_type = _content_type(plain.get("content-type", ()), defects)
    return Headers(
        message_id=message_id or f"<{digest}@postroom.invalid>",
        message_id_present=bool(message_id),
        in_reply_to=_ids(plain.get("in-reply-to", ())),
        references=_ids(plain.get("references", ())),
        subject=_first(decoded, "subject").strip(),
        sender=sender,
        sender_name=sender_name,
        to=tuple(addr for _, addr in _addresses("to", plain.get("to", ()), defects)),
        cc=tuple(addr for _, addr in _addresses("cc", plain.get("cc", ()), defects)),
        date=_date(plain.get("date", ()), defects),
        content_type=content_type,
        report_type=report_type,
        size=len(raw),
        sha256=digest,
        raw_headers={key: tuple(values) for key, values in decoded.items()},
        defects=tuple(dict.fromkeys(defects)),
    )


def is_unparseable(headers: Headers) -> bool:
    """Whether the bytes had no header at all, so nothing can route them and they must be held."""
    return not headers.raw_headers


def parse_body(raw: bytes) -> Body:
    """Read a message for a person: its text, its HTML and its attachments; never raises."""
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        return _body(message, [], lenient=False)
    except Exception as exc:  # policy.default's header parser raises on some hostile input
        failure = f"full parse failed ({type(exc).__name__}: {exc}); read with compat32"
    defects = [failure]  # the first attempt's other findings may be wrong, so they go
    try:
        legacy = BytesParser(policy=policy.compat32).parsebytes(raw)
        return _body(legacy, defects, lenient=True)
    except Exception as exc:  # a person must still see something
        defects.append(f"compat32 parse failed ({type(exc).__name__}: {exc}); showing raw bytes")
    text, defect = _decode_bytes(raw, "utf-8")
    return Body(text=_lines(text), html=None, attachments=(), defects=_unique(defects, defect))


# Headers


def _header_section(raw: bytes, defects: list[str]) -> bytes:
    """The bytes up to the first blank line: the body can be 30 MB and headersonly still splits it
    into lines."""
    ends = [
        i + len(sep)
        for sep in (b"\n\n", b"\n\r\n")
        if (i := raw.find(sep, 0, MAX_HEADER_BYTES)) >= 0
    ]
    if ends:
        return raw[: min(ends)]
    if len(raw) > MAX_HEADER_BYTES:
        defects.append(f"no end of headers in the first {MAX_HEADER_BYTES} bytes; rest ignored")
        return raw[:MAX_HEADER_BYTES]
    return raw


def _unfold(name: str, value: str, defects: list[str]) -> str:
    """A header value on one line, with raw 8-bit bytes turned back into text."""
    if "\n" in value or "\r" in value:
        value = value.replace("\r", "").replace("\n", "")
    if len(value) > MAX_HEADER_CHARS:
        defects.append(f"{name}: value of {len(value)} characters truncated to {MAX_HEADER_CHARS}")
        value = value[:MAX_HEADER_CHARS]
    if not value.isascii():
        # compat32 hands 8-bit bytes over as surrogate escapes; RFC 6532 says they are UTF-8.
        data = value.encode("ascii", "surrogateescape")
        if _is_utf8(data):
            return data.decode("utf-8")
        value, guessed = _guess(data)
        defects.append(f"{name}: 8-bit bytes are not UTF-8; read as {guessed}")
    return value


def _decode_words(name: str, text: str, defects: list[str]) -> str:
    """`text` with its RFC 2047 encoded words decoded, each in its charset or a better guess."""
    if "=?" not in text:
        return text
    try:
        chunks = decode_header(text)
    except Exception as exc:  # HeaderParseError for bad base64, and whatever else it meets
        defects.append(f"{name}: encoded word unreadable ({exc}); kept as written")
        return text
    parts: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            parts.append(chunk)
        elif charset is None:
            # decode_header hands unencoded text back as raw-unicode-escape bytes.
            try:
                parts.append(chunk.decode("raw-unicode-escape"))
            except UnicodeDecodeError:
                parts.append(chunk.decode("latin-1"))
        else:
            word, defect = _decode_bytes(chunk, charset.partition("*")[0])  # RFC 2231 language
            parts.append(word)
            if defect:
                defects.append(f"{name}: {defect}")
    return _CONTROL.sub(" ", "".join(parts))


def _first(values: dict[str, list[str]], key: str) -> str:
    found = values.get(key)
    return found[0] if found else ""


def _first_id(values: Iterable[str], defects: list[str]) -> str:
    """The Message-ID as "<id>", or "" when there is none worth deduplicating on."""
    for value in values:
        for match in _ID_TOKEN.finditer(value):
            inner = "".join(match.group(1).split())
            if inner:
                return f"<{inner}>"
        if tokens := value.strip().strip("<>").split():
            defects.append("message-id: no <...> brackets")
            return f"<{tokens[0]}>"
        if value.strip():
            defects.append(f"message-id: {value[:80]!r} holds no id")
    return ""


def _ids(values: Iterable[str]) -> tuple[str, ...]:
    """Every Message-ID named, in order; bare "id@host" tokens count when no brackets are used."""
    found: list[str] = []
    for value in values:
        bracketed = ["".join(m.group(1).split()) for m in _ID_TOKEN.finditer(value)]
        if any(bracketed):
            found.extend(f"<{inner}>" for inner in bracketed if inner)
        else:
            found.extend(f"<{t.strip('<>')}>" for t in value.split() if "@" in t)
    return tuple(found)


def _addresses(name: str, values: Iterable[str], defects: list[str]) -> list[tuple[str, str]]:
    """(display name, addr-spec) pairs; the domain is lower-cased since only the local part may
    be case-sensitive, and senders are compared and rate-capped by this value."""
    values = list(values)
    if not values:
        return []
    simple = [_simple_addresses(value) for value in values]
    try:
        pairs = (
            [pair for found in simple for pair in found or ()]
            if all(found is not None for found in simple)
            else getaddresses(values)
        )
    except Exception as exc:  # the stdlib address parser is not total
        defects.append(f"{name}: addresses unreadable: {type(exc).__name__}: {exc}")
        return []
    found: list[tuple[str, str]] = []
    for display, addr in pairs:
        addr = "".join(addr.split()).strip("<>")
        if not addr:
            continue
        local, at, domain = addr.rpartition("@")
        addr = f"{local}@{domain.lower()}" if at else addr
        found.append((_decode_words(name, display, defects).strip(), addr))
    return found


def _simple_addresses(value: str) -> list[tuple[str, str]] | None:
    """The pairs `getaddresses` would give for a list of plain `name <addr>` or `addr` items, or
    None for anything more unusual: the stdlib parser reads character by character and cost
    three times the header parse itself."""
    pairs: list[tuple[str, str]] = []
    pos = 0
    while pos < len(value):
        match = _MAILBOX.match(value, pos)
        if match is None or match.end() == pos:
            return None
        quoted, phrase, angle, bare = match.group("quoted", "phrase", "angle", "bare")
        if quoted is not None:
            pairs.append((_ESCAPED.sub(r"\1", quoted), angle))
        else:
            pairs.append((" ".join((phrase or "").split()), angle or bare))
        pos = match.end()
    return pairs


def _date(values: Iterable[str], defects: list[str]) -> datetime | None:
    for value in values:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            defects.append(f"date: {value[:80]!r} is not a date")
            return None
        # "-0000" (time zone unknown) gives a naive datetime; UTC is what it states.
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return None


def _content_type(values: Iterable[str], defects: list[str]) -> tuple[str, str]:
    """(type, report-type), with text/plain for a missing or invalid type as RFC 2045 says."""
    for value in values:
        kind = value.partition(";")[0].strip().lower()
        major, slash, minor = kind.partition("/")
        if not (slash and major and minor) or "/" in minor or " " in kind:
            defects.append(f"content-type: {value[:80]!r} is invalid; text/plain assumed")
            return "text/plain", ""
        report = ""
        if kind == "multipart/report" and (match := _REPORT_TYPE.search(value)):
            report = (match.group(1) or match.group(2) or "").strip().lower()
        return kind, report
    return "text/plain", ""


# Charsets


def _decode_bytes(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Text in the declared charset, or a guess when it is unknown or lies; and a defect when
    the label could not be trusted."""
    label = (declared or "us-ascii").strip().strip("\"'").lower()
    label = _CHARSET_ALIASES.get(label, label)
    try:
        codec = codecs.lookup(label).name
    except (LookupError, ValueError, TypeError):
        codec = None
    if codec is not None:
        try:
            text = data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass  # mislabelled; fall through to a guess
        else:
            if codec in _LATIN_LABELS and not data.isascii() and _is_utf8(data):
                return data.decode("utf-8"), f"charset {label} declared but the bytes are UTF-8"
            return text, None
    text, guessed = _guess(data)
    why = "does not fit the bytes" if codec is not None else "is unknown"
    return text, f"charset {label} {why}; read as {guessed}"


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _guess(data: bytes) -> tuple[str, str]:
    """(text, charset) for bytes of unknown charset.

    UTF-8 first, since it almost never decodes by accident. Then Windows-1252 for bytes that look
    like a Latin-script text with a few accents, because that is what most unlabelled 8-bit mail
    is, and charset-normalizer guesses badly on short samples (it reads "Café" as Korean).
    charset-normalizer decides the rest: texts where nearly every letter is 8-bit (Cyrillic,
    Greek, CJK) and bytes Windows-1252 leaves undefined.
    """
    if _is_utf8(data):
        return data.decode("utf-8"), "utf-8"
    high = len(data.translate(None, _HIGH_BYTES))
    letters = len(data.translate(None, _NOT_ASCII_LETTERS))
    try:
        latin = data.decode("cp1252")
    except UnicodeDecodeError:
        latin = None
    if latin is not None and (high < 16 or high <= letters):
        return latin, "cp1252"
    results = list(from_bytes(data))
    if results:
        # Among guesses that fit equally well, mail is far more often in a Windows or ISO
        # charset than in a Mac one, which charset-normalizer otherwise picks about as often.
        least = min(match.chaos for match in results)
        best = min(
            (match for match in results if match.chaos <= least + 0.01),
            key=lambda match: (_rarity(match.encoding), -match.coherence),
        )
        return str(best), best.encoding
    return data.decode("cp1252", "replace"), "cp1252"


def _rarity(encoding: str) -> int:
    """How unusual a charset is in email: 0 for Windows and Unicode, 1 for ISO and national
    standards, 2 for the rest (Mac, EBCDIC, DOS code pages)."""
    name = encoding.lower().replace("-", "_")
    if name.startswith(("cp125", "utf")):
        return 0
    if name.startswith(("iso", "koi8", "gb", "big5", "shift_jis", "cp932", "euc", "cp949")):
        return 1
    return 2


# Body


def _body(root: Message, defects: list[str], *, lenient: bool) -> Body:
    """Walk the parts in order; `lenient` skips a part that fails instead of raising, for the
    fallback, where nothing better is left to try."""
    text: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []
    stack: list[Message] = [root]  # iterative: a deeply nested MIME bomb must not recurse
    while stack:
        part = stack.pop()
        try:
            kind = part.get_content_type()
            defects.extend(f"{kind}: {type(d).__name__}" for d in part.defects)
            if part.is_multipart() and part.get_content_maintype() != "message":
                children = part.get_payload()
                if isinstance(children, list):
                    stack.extend(reversed([c for c in children if isinstance(c, Message)]))
                continue
            attachment = _attachment(part, kind, defects)
            if attachment is not None:
                attachments.append(attachment)
            elif kind == "text/plain" and text is None:
                text = _part_text(part, defects)
            elif kind == "text/html" and html is None:
                html = _part_text(part, defects)
        except Exception as exc:
            if not lenient:
                raise
            defects.append(f"a part was skipped: {type(exc).__name__}: {exc}")
    if (text is None or not text.strip()) and html is not None:
        text = _html_text(html, defects)  # an empty text/plain beside real HTML says nothing
    if text is None and html is None and not attachments:
        text = _raw_payload(root, defects)
    return Body(
        text=_lines(text or ""),
        html=_lines(html) if html is not None else None,
        attachments=tuple(attachments),
        defects=_unique(defects),
    )


def _attachment(part: Message, kind: str, defects: list[str]) -> Attachment | None:
    """The part as an attachment, or None when it is a body part (text or HTML) or a report
    part (delivery status) that is not meant to be saved on its own."""
    filename = part.get_filename()
    name = _decode_words("filename", str(filename), defects).strip() if filename else ""
    attached = part.get_content_disposition() == "attachment"
    major = part.get_content_maintype()
    if kind in ("message/rfc822", "message/global"):
        inner = part.get_payload()
        nested = inner[0] if isinstance(inner, list) and inner else None
        if isinstance(nested, Message):
            return Attachment(name or _nested_name(nested, defects), kind, _nested_size(nested))
        name = name or "message.eml"
    elif not (name or attached) and major in ("text", "multipart", "message"):
        return None  # body text, or a report part such as message/delivery-status
    # A nameless image or PDF counts too: otherwise nothing would show it.
    payload = part.get_payload(decode=True)
    return Attachment(name, kind, len(payload) if isinstance(payload, bytes) else 0)


def _nested_name(nested: Message, defects: list[str]) -> str:
    subjects = [str(v) for k, v in nested.raw_items() if k.lower() == "subject"]
    subject = _unfold("subject", subjects[0], defects) if subjects else ""
    return f"{_decode_words('subject', subject, defects).strip() or 'message'}.eml"


def _nested_size(nested: Message) -> int:
    try:
        return len(nested.as_bytes())
    except Exception:  # re-serialising a broken message can fail; size is a hint
        return 0


def _part_text(part: Message, defects: list[str]) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    text, defect = _decode_bytes(data, part.get_content_charset())
    if defect:
        defects.append(f"{part.get_content_type()}: {defect}")
    return text


def _html_text(html: str, defects: list[str]) -> str:
    try:
        return str(get_text(html))
    except Exception as exc:  # lxml refuses some documents; tags out is enough
        defects.append(f"text/html: not convertible to text ({type(exc).__name__}); tags removed")
        return _TAG.sub("", html)


def _raw_payload(root: Message, defects: list[str]) -> str:
    """The body as written when no part could be read (a multipart without its boundary)."""
    payload = root.get_payload(decode=True)
    if not isinstance(payload, bytes) or not payload.strip():
        return ""
    defects.append("no readable part; showing the body as written")
    text, _ = _decode_bytes(payload, root.get_content_charset())
    return text


def _lines(text: str) -> str:
    """LF line ends: CRLF from the wire would double every line in a reply's quote."""
    return text.replace("\r\n", "\n")


def _unique(defects: list[str], *more: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*defects, *(d for d in more if d)]))
