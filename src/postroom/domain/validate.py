"""Checks on values typed by people, each failing with a message that says what to fix."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import TypeVar

from postroom.errors import InvalidInput, ReasonRequired

E = TypeVar("E", bound=StrEnum)

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
MAX_TIMEOUT_SECONDS = 600.0
_LINE_BREAKING = {"Cc", "Zl", "Zp"}  # control characters, line and paragraph separators


def choice(kind: type[E], value: str, field: str) -> E:
    try:
        return kind(value.strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InvalidInput(
            f"Unknown {field} {value!r}: use one of {allowed}.", field=field
        ) from None


def name(value: str, field: str = "name") -> str:
    cleaned = value.strip()
    if not cleaned:
        raise InvalidInput(f"The {field} is empty: give it a name.", field=field)
    if len(cleaned) > 100:
        raise InvalidInput(f"The {field} is longer than 100 characters.", field=field)
    if any(ord(c) < 32 for c in cleaned):
        raise InvalidInput(f"The {field} contains control characters.", field=field)
    return cleaned


def display_name(value: str, field: str = "display_name") -> str:
    """The name shown beside an address in From: one line, or a header could be injected and
    every email sent with it would be refused."""
    cleaned = value.strip()
    if len(cleaned) > 200 or any(unicodedata.category(c) in _LINE_BREAKING for c in cleaned):
        raise InvalidInput(
            "The name is too long or holds control characters (line breaks, tabs): write it "
            "on one line, at most 200 characters.",
            field=field,
        )
    return cleaned


def hostname(value: str) -> str:
    host = value.strip().rstrip(".").lower()
    if not host:
        raise InvalidInput("The host is empty: give the server's name or IP address.", field="host")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host and all(c in "0123456789abcdef:." for c in host):
        return host  # an IPv6 literal
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise InvalidInput(
            f"{value!r} is not a valid host name: use a name like imap.example.com or an IP "
            "address, without a scheme or port.",
            field="host",
        )
    return host


def port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise InvalidInput(f"Port {value} is invalid: use a number from 1 to 65535.", field="port")
    return value


def timeout(value: float | None, field: str) -> float | None:
    """Blank means none (as the seed says); zero, negative and absurd values are refused."""
    if value is None:
        return None
    if not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise InvalidInput(
            f"The {field} of {value:g} s is out of range: use more than 0 and at most "
            f"{MAX_TIMEOUT_SECONDS:g} seconds, or leave it blank for none.",
            field=field,
        )
    return value


def address(value: str, field: str = "address") -> str:
    """An addr-spec such as ann@example.org; display names and angle brackets are refused.

    International addresses are kept: a domain like bücher.de becomes its IDNA form
    (xn--bcher-kva.de), which every server understands; a UTF-8 local part (RFC 6531) stays as
    it is and needs a server offering SMTPUTF8 when it is sent.
    """
    candidate = value.strip()
    local, at, domain = candidate.rpartition("@")
    problem = None
    if not at or not local or not domain:
        problem = "it needs one @ between a name and a domain"
    elif not _local_part_ok(local) or local.startswith(".") or ".." in local:
        problem = f"the part before @ ({local!r}) has characters an address cannot hold"
    else:
        try:
            domain = hostname(_idna(domain))
        except InvalidInput:
            problem = f"the domain {domain!r} is not a valid host name"
    if problem:
        raise InvalidInput(
            f"{value!r} is not a valid email address: {problem}. Write it as name@example.com.",
            field=field,
        )
    return f"{local}@{domain.lower()}"


def _local_part_ok(local: str) -> bool:
    if local.isascii():
        return bool(_LOCAL_PART.match(local))
    ascii_part = "".join(c for c in local if c.isascii())
    utf8_ok = all(c.isascii() or (c.isprintable() and not c.isspace()) for c in local)
    return (
        utf8_ok
        and len(local.encode()) <= 64
        and (not ascii_part or bool(_LOCAL_PART.match(ascii_part)))
    )


def _idna(domain: str) -> str:
    """A non-ASCII domain in its ASCII form (IDNA 2008 with UTS 46 mapping); "" if it has none."""
    if domain.isascii():
        return domain
    import idna  # only for international domains: keeps the CLI's start fast

    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        return ""


def reason(value: str | None) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise ReasonRequired(
            "Say why: a reason is required and is kept in the audit log.", field="reason"
        )
    return cleaned
