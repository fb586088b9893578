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
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from email import policy
from email.errors import MissingHeaderBodySeparatorDefect
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

MAX_STRAY_LINES = 10
"""At most this many lines that are not headers (an mbox "From " line, a stray word) are skipped
to reach the header block after them; more means the bytes are not an email."""

_HEADER_PARSER = BytesParser(policy=policy.compat32)  # stateless: safe to share across threads
_STRAY = "header section: MissingHeaderBodySeparatorDefect"
_HEADER_LINE = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")  # as compat32's headerRE, without "From "
_CORE_FIELDS = frozenset(
    {"from", "to", "subject", "date", "message-id", "received", "return-path", "mime-version"}
)
_LATIN_LABELS = frozenset({"iso8859-1", "cp1252", "iso8859-15", "latin-1"})
_CHARSET_ALIASES = {"iso-8859-8-i": "iso-8859-8", "iso-8859-6-i": "iso-8859-6"}
_ID_TOKEN = re.compile(r"<([^<>]*)>")
_REPORT_TYPE = re.compile(r';\s*report-type\s*=\s*(?:"([^"]*)"|([^;\s]*))', re.IGNORECASE)
_ADDR_SPEC = r"[^\s<>()\[\]\",;:\\@]+@[^\s<>()\[\]\",;:\\@]+"
_VALID_ADDRESS = re.compile(
    r'(?:[^\s<>()\[\]",;:\\@]+|"(?:[^"\\]|\\.)*")'  # local part: dot-atom or quoted string
    r"@(?:[\w-]+(?:\.[\w-]+)*"  # domain: host labels, or an address literal (RFC 5321)
    r"|\[(?:\d{1,3}(?:\.\d{1,3}){3}|IPv6:[0-9A-Fa-f:.]+)\])"
)
_ENCODED_WORDS = re.compile(  # a quoted string or comment (left alone), or a run of encoded words
    r'"(?:[^"\\]|\\.)*"|\((?:[^()\\]|\\.)*\)'
    r"|(=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=(?:\s+=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)*)"
)
_CHARSET_PARAM = re.compile(rb'charset\s*=\s*"?([\w.:+-]+)', re.IGNORECASE)
_WORD_CHARSET = re.compile(r"=\?([^?*\s]+)(?:\*[^?]*)?\?[bBqQ]\?")
_ISO_2022_JP = re.compile(r"\x1b(?:\$[@B]|\([BJ])")
_KANA = re.compile(r"[\u3041-\u30ff]")
_NOT_CJK = re.compile(r"[^\x00-\x7f\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
_WIDE_CHARSETS = frozenset(
    {"utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le", "utf_7"}
)
_DECLARED_SCAN = 1 << 16
_MAILBOX = re.compile(
    r'\s*(?:(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<phrase>[^"<>()\[\],;:\\@]*?))'
    rf"\s*<(?P<angle>{_ADDR_SPEC})>|(?P<bare>{_ADDR_SPEC}))\s*(?:,|\Z)"
)
_SPECIALS = re.compile(r'[<>()\[\]",;:\\]')
_ESCAPED = re.compile(r"\\(.)")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TAG = re.compile(r"<[^>]*>")
_HIGH_BYTES = bytes(range(128))  # deleting these leaves the 8-bit bytes
_NOT_ASCII_LETTERS = bytes(b for b in range(256) if not chr(b).isascii() or not chr(b).isalpha())


def parse_headers(raw: bytes) -> Headers:
    """Read what routing needs from a message's header section; never raises."""
    digest = hashlib.sha256(raw).hexdigest()
    defects: list[str] = []
    section = _header_section(raw, defects)
    items, stray = _header_items(section, defects)
    if stray:  # a line that is not a header ended compat32's header block: the slow path
        items = _without_stray_lines(section, items, defects)
    if not items:
        defects.append("no headers found")

    # Stage one (unfolded, 8-bit recovered) feeds the structured fields: RFC 2047 words must not
    # be decoded before addresses are split, or a display name like "Doe, John" splits in two.
    plain: dict[str, list[str]] = {}
    decoded: dict[str, list[str]] = {}
    declared: _Declared | None = None
    escapes = b"\x1b" in section  # ISO-2022-JP text is 7-bit, so isascii() does not catch it
    for name, value in items:
        key = name.lower()  # the parser only takes names without spaces
        if (
            len(value) > MAX_HEADER_CHARS
            or not value.isascii()
            or "\n" in value
            or (escapes and "\x1b" in value)
        ):
            declared = declared or _Declared(raw, items)
            value = _unfold(key, value, defects, declared)
        elif "\r" in value:
            value = value.replace("\r", "")
        if key in plain:
            plain[key].append(value)
            decoded[key].append(_decode_words(key, value, defects) if "=?" in value else value)
        else:
            plain[key] = [value]
            decoded[key] = [_decode_words(key, value, defects) if "=?" in value else value]

    message_id = _first_id(plain.get("message-id", ()), defects)
    sender_name, sender = _requester(plain, defects)
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


def _read(raw: bytes) -> Message:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if any(isinstance(d, MissingHeaderBodySeparatorDefect) for d in message.defects):
        # A junk line before the headers made them body text; read past it, as routing did.
        repaired = _repaired(raw)
        if repaired is not None:
            message = BytesParser(policy=policy.default).parsebytes(repaired)
    return message


def attachments_of(raw: bytes) -> tuple[Attachment, ...]:
    """The attachments alone, as `parse_body` lists them, without reading any text part (a
    huge email's body is never turned into text just to list its files)."""
    return tuple(found for found, _ in _attachment_parts(raw))


def attachment_at(raw: bytes, index: int) -> tuple[Attachment, bytes] | None:
    """The index-th of `attachments_of(raw)`, with its decoded content."""
    for seen, (found, part) in enumerate(_attachment_parts(raw)):
        if seen == index:
            return found, _content(part)
    return None


def _attachment_parts(raw: bytes) -> Iterator[tuple[Attachment, Message]]:
    """The parts walked in `_body`'s order and judged by its test, so the numbers agree."""
    try:
        root = _read(raw)
    except Exception:  # as parse_body, which then reads with compat32
        root = BytesParser(policy=policy.compat32).parsebytes(raw)
    stack: list[Message] = [root]
    while stack:
        part = stack.pop()
        try:
            kind = part.get_content_type()
            if part.is_multipart() and part.get_content_maintype() != "message":
                children = part.get_payload()
                if isinstance(children, list):
                    stack.extend(reversed([c for c in children if isinstance(c, Message)]))
                continue
            found = _attachment(part, kind, [])
        except Exception:  # skipped by parse_body's lenient reading too
            found = None
        if found is not None:
            yield found, part


def _content(part: Message) -> bytes:
    if part.get_content_maintype() == "message":
        inner = part.get_payload()
        nested = inner[0] if isinstance(inner, list) and inner else None
        if isinstance(nested, Message):
            return nested.as_bytes()
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def parse_body(raw: bytes) -> Body:
    """Read a message for a person: its text, its HTML and its attachments; never raises."""
    try:
        return _body(_read(raw), [], lenient=False)
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


def _header_items(section: bytes, defects: list[str]) -> tuple[list[tuple[str, str]], bool]:
    """The (name, value) pairs compat32 reads, and whether a line that is not a header ended them
    early (a junk line before the headers, or a stray one among them)."""
    try:
        parsed = _HEADER_PARSER.parsebytes(section, headersonly=True)
    except Exception as exc:  # the parser has failed on hostile input before
        defects.append(f"header section unreadable: {type(exc).__name__}: {exc}")
        return [], False
    found = [f"header section: {type(d).__name__}" for d in parsed.defects]
    defects.extend(found)
    return list(parsed.raw_items()), _STRAY in found


def _without_stray_lines(
    section: bytes, items: list[tuple[str, str]], defects: list[str]
) -> list[tuple[str, str]]:
    """The headers read again without the lines that hid some of them; `items` when that reads
    no more, or when what it reads has none of the fields every email has (a PNG has no From,
    Subject or Date)."""
    cleaned = _stray_lines_removed(section)
    if cleaned is None:
        return items
    fixed, skipped = cleaned
    found: list[str] = []
    more, _ = _header_items(fixed, found)
    if len(more) <= len(items) or not any(name.lower() in _CORE_FIELDS for name, _ in more):
        return items
    defects.remove(_STRAY)
    defects.extend(d for d in found if d != _STRAY)
    first = skipped[0].rstrip(b"\r\n").decode("ascii", "replace")[:80]
    defects.append(f"header section: {len(skipped)} line(s) before headers skipped: {first!r}")
    return more


def _stray_lines_removed(section: bytes) -> tuple[bytes, list[bytes]] | None:
    """The header section without the lines that are not headers but come before the last one
    (an mbox "From " line, a word on its own), and those lines; None when there are none, or too
    many to be an email. The stored raw bytes stay as they came: this copy is only read."""
    lines = section.splitlines(keepends=True)
    kept: list[bytes] = []
    skipped: list[bytes] = []
    last_header = -1
    for index, line in enumerate(lines):
        if not line.strip(b"\r\n"):
            break
        if _HEADER_LINE.match(line):
            last_header = index
    in_stray = False
    for index, line in enumerate(lines):
        if index > last_header:
            kept.append(line)
        elif line[:1] in (b" ", b"\t") and in_stray:
            skipped.append(line)  # the folded rest of a stray line
        elif line[:1] in (b" ", b"\t") or _HEADER_LINE.match(line):
            kept.append(line)
            in_stray = False
        else:
            skipped.append(line)
            in_stray = True
    if not skipped or len(skipped) > MAX_STRAY_LINES:
        return None
    return b"".join(kept), skipped


def _repaired(raw: bytes) -> bytes | None:
    """`raw` without the stray lines that hide its headers, for a person to read; None when
    nothing can be skipped."""
    section = _header_section(raw, [])
    cleaned = _stray_lines_removed(section)
    return None if cleaned is None else cleaned[0] + raw[len(section) :]


class _Declared:
    """The charset an email declares for its text, looked up only when a header needs it: raw
    8-bit header bytes are most often in the charset the same sender used for the body."""

    __slots__ = ("_codec", "_items", "_looked", "_raw")

    def __init__(self, raw: bytes, items: list[tuple[str, str]]) -> None:
        self._raw, self._items = raw, items
        self._codec: str | None = None
        self._looked = False

    def codec(self) -> str | None:
        if not self._looked:
            self._looked = True
            self._codec = self._find()
        return self._codec

    def _find(self) -> str | None:
        """Content-Type's charset, else the first one a MIME part declares, else the charset of
        an encoded word; Latin-1 and ASCII labels read as Windows-1252, as browsers do."""
        labels: list[str] = []
        for name, value in self._items:
            if name.lower() == "content-type":
                found = _CHARSET_PARAM.search(value.encode("ascii", "surrogateescape"))
                if found:
                    labels.append(found.group(1).decode("ascii"))
        labels.extend(
            m.group(1).decode("ascii")
            for m in _CHARSET_PARAM.finditer(self._raw, 0, _DECLARED_SCAN)
        )
        labels.extend(m.group(1) for _, value in self._items for m in _WORD_CHARSET.finditer(value))
        for label in labels:
            try:
                codec = codecs.lookup(_CHARSET_ALIASES.get(label.lower(), label)).name
            except LookupError:
                continue
            if codec in _WIDE_CHARSETS or codec == "utf-8":
                continue
            return "cp1252" if codec in _LATIN_LABELS or codec == "ascii" else codec
        return None


def _unfold(name: str, value: str, defects: list[str], declared: _Declared | None = None) -> str:
    """A header value on one line, with raw 8-bit bytes turned back into text: UTF-8 when they
    are (RFC 6532), else the charset the email declares elsewhere, else a guess among 8-bit
    charsets; ISO-2022-JP escapes without a declaration read as ISO-2022-JP."""
    if "\n" in value or "\r" in value:
        value = value.replace("\r", "").replace("\n", "")
    if len(value) > MAX_HEADER_CHARS:
        defects.append(f"{name}: value of {len(value)} characters truncated to {MAX_HEADER_CHARS}")
        value = value[:MAX_HEADER_CHARS]
    if not value.isascii():
        # compat32 hands 8-bit bytes over as surrogate escapes.
        data = value.encode("ascii", "surrogateescape")
        if _is_utf8(data):
            return data.decode("utf-8")
        codec = declared.codec() if declared is not None else None
        text = _strict(data, codec) if codec else None
        if text is not None and codec is not None:
            value, guessed = text, codec
        else:
            value, guessed = _guess(data, eight_bit=True)
        defects.append(f"{name}: 8-bit bytes are not UTF-8; read as {guessed}")
    elif "\x1b" in value and _ISO_2022_JP.search(value):
        text = _strict(value.encode("ascii"), "iso2022_jp_2")
        if text is not None:
            defects.append(f"{name}: undeclared ISO-2022-JP escapes; read as iso-2022-jp")
            return text
    return value


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


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


def _requester(plain: dict[str, list[str]], defects: list[str]) -> tuple[str, str]:
    """(display name, address) of who wrote the email, or ("", "") when no header names a valid
    address: each From header in turn (some mail has a garbage one and a good one), then Sender,
    Reply-To and Return-Path. A wrong requester is worse than none: replies would go to it."""
    for key in ("from", "sender", "reply-to", "return-path"):
        for value in plain.get(key, ()):
            for display, addr in _addresses(key, (value,), defects):
                if _VALID_ADDRESS.fullmatch(addr):
                    return display, addr
            if value.strip() not in ("", "<>"):
                defects.append(f"{key}: no valid address in {value[:80]!r}")
    return "", ""


def _addresses(name: str, values: Iterable[str], defects: list[str]) -> list[tuple[str, str]]:
    """(display name, addr-spec) pairs; the domain is lower-cased since only the local part may
    be case-sensitive, and senders are compared and rate-capped by this value."""
    values = [_quote_encoded_words(name, v, defects) if "=?" in v else v for v in values]
    if not values:
        return []
    simple = [_simple_addresses(value) for value in values]
    if None in simple:
        simple = [
            _bare_words(v) if found is None else found
            for v, found in zip(values, simple, strict=True)
        ]
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
        addr = addr.strip().strip("<>")
        if not addr:
            continue
        display = _decode_words(name, display, defects).strip()
        if (" " in addr or "\t" in addr) and not _VALID_ADDRESS.fullmatch(addr):
            # "Test test@example.com": spaces are never squeezed out, that would invent an
            # address; the words that are addresses are the addresses, the others a name.
            words = addr.split()
            named = [w.strip("<>") for w in words if _VALID_ADDRESS.fullmatch(w.strip("<>"))]
            if not named:
                defects.append(f"{name}: {addr[:80]!r} is not an address")
                continue
            rest = " ".join(w for w in words if w.strip("<>") not in named)
            display = display or (rest if len(named) == 1 else "")
            defects.append(f"{name}: {addr[:80]!r} has no angle brackets; read as {named}")
            found.extend((display, _lower_domain(a)) for a in named)
            continue
        local, at, domain = addr.rpartition("@")
        found.append((display, f"{local}@{domain.lower()}" if at else addr))
    return found


def _lower_domain(addr: str) -> str:
    local, at, domain = addr.rpartition("@")
    return f"{local}@{domain.lower()}" if at else addr


def _quote_encoded_words(name: str, value: str, defects: list[str]) -> str:
    """`value` with each run of encoded words outside quotes and comments replaced by its text
    as a quoted string, as mail clients read them: a name such as
    `=?iso-8859-1?Q?B=FCrling,?=` must not be split at its comma."""

    def quoted(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group(0)
        text = _decode_words(name, match.group(1), defects)
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return _ENCODED_WORDS.sub(quoted, value)


def _bare_words(value: str) -> list[tuple[str, str]] | None:
    """Words with no brackets, quotes or separators (`Test test@example.com`) as one item, for
    the caller to pick the addresses out of; the stdlib parser glues or drops such words."""
    if _SPECIALS.search(value) or not value.strip():
        return None
    return [("", value.strip())]


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


def _guess(data: bytes, *, eight_bit: bool = False) -> tuple[str, str]:
    """(text, charset) for bytes of unknown charset.

    UTF-8 first, since it almost never decodes by accident. Then Japanese, when the bytes read
    as Shift_JIS or EUC-JP into kana and kanji only: short Japanese text otherwise passes for
    accented Latin or for Korean. Then Windows-1252 for bytes that look like a Latin-script text
    with a few accents, because that is what most unlabelled 8-bit mail is, and
    charset-normalizer guesses badly on short samples (it reads "Café" as Korean).
    charset-normalizer decides the rest: texts where nearly every letter is 8-bit (Cyrillic,
    Greek, CJK) and bytes Windows-1252 leaves undefined. `eight_bit` keeps it to charsets a
    header can be written in: UTF-16 and UTF-32 read any even number of bytes as some text.
    """
    if _is_utf8(data):
        return data.decode("utf-8"), "utf-8"
    if japanese := _japanese(data):
        return japanese
    high = len(data.translate(None, _HIGH_BYTES))
    letters = len(data.translate(None, _NOT_ASCII_LETTERS))
    try:
        latin = data.decode("cp1252")
    except UnicodeDecodeError:
        latin = None
    if latin is not None and (high < 16 or high <= letters):
        return latin, "cp1252"
    results = [
        match
        for match in from_bytes(data, cp_exclusion=sorted(_WIDE_CHARSETS) if eight_bit else None)
        if not (eight_bit and match.encoding in _WIDE_CHARSETS)
    ]
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


def _japanese(data: bytes) -> tuple[str, str] | None:
    """(text, charset) when the bytes are Shift_JIS or EUC-JP text with kana in it, else None.
    Kana appear only in Japanese, and Latin or Korean bytes read in these charsets give either
    an error or characters outside kana and kanji."""
    best: tuple[int, str, str] | None = None
    for codec in ("cp932", "euc_jp"):
        text = _strict(data, codec)
        if text is None or _NOT_CJK.search(text):
            continue
        kana = len(_KANA.findall(text))
        if kana and (best is None or kana > best[0]):
            best = (kana, text, codec)
    return (best[1], best[2]) if best else None


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
