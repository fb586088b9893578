"""Providers' sending limits, as data: a rate ("30/min"), the documented defaults of the
known providers, and which SMTP or HTTP answers mean "slow down" rather than "no".

Pure: no database. services/send_limits.py counts what each mailbox used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from postroom.errors import InvalidInput

if TYPE_CHECKING:  # smtplib: not for the listings that print a server's send rate
    from postroom.outbound.sender import Outcome

UNITS = {
    "s": 1, "sec": 1, "second": 1,
    "min": 60, "minute": 60,
    "h": 3_600, "hour": 3_600,
    "d": 86_400, "day": 86_400,
}  # fmt: skip
NAMES = {1: "s", 60: "min", 3_600: "hour", 86_400: "day"}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([a-z]+?)s?\s*")


@dataclass(frozen=True)
class Rate:
    """At most `count` emails in any `seconds` from the first of them."""

    count: int
    seconds: int

    def __str__(self) -> str:
        unit = NAMES.get(self.seconds)
        return f"{self.count}/{unit}" if unit else f"{self.count}/{self.seconds}s"


@dataclass(frozen=True)
class Limits:
    rate: Rate | None
    recipients_per_day: int | None


def parse_rate(text: str | None) -> Rate | None:
    """'30/min', '2000/day', '5/10s'; '' or 'none' for no limit."""
    if text is None or text.strip().lower() in ("", "none", "off"):
        return None
    match = _RATE.fullmatch(text.lower())
    if not match or match[3] not in UNITS or int(match[1]) < 1:
        raise InvalidInput(
            f"The send rate {text!r} is not a rate: write e.g. 30/min, 2000/day or none.",
            field="send_rate",
        )
    return Rate(int(match[1]), int(match[2] or 1) * UNITS[match[3]])


# Documented figures (README: Sending limits). Exchange Online: 30 messages a minute and
# 10,000 recipients a day per mailbox. Google Workspace: 2,000 messages and 10,000 recipients
# a day per user, in a rolling 24 hours (a consumer Gmail account allows about 500: lower it).
MICROSOFT = Limits(Rate(30, 60), 10_000)
GOOGLE = Limits(Rate(2_000, 86_400), 10_000)
KNOWN: dict[str, Limits] = {
    "smtp.office365.com": MICROSOFT,
    "smtp-mail.outlook.com": MICROSOFT,
    "graph.microsoft.com": MICROSOFT,
    "smtp.gmail.com": GOOGLE,
    "gmail.googleapis.com": GOOGLE,
}


def defaults_for(host: str) -> Limits:
    return KNOWN.get(host.lower(), Limits(None, None))


# "Slow down" answers: any 4.7.x (Gmail's 4.7.28, Exchange's 4.7.0 rate limiting), too many
# recipients for now (452 4.5.3), and Exchange's submission quota (554 5.2.0 ...Quota...) or
# Gmail's daily quota (550 5.4.5), which are permanent codes for a temporary state.
_TEMPORARY = re.compile(r"\b4\.7\.\d{1,3}\b|\b4\.5\.3\b")
_QUOTA = re.compile(r"\b5\.(?:2\.0|4\.5)\b.*quota|quota.*\b5\.(?:2\.0|4\.5)\b", re.IGNORECASE)


def is_throttle(code: int, text: str) -> bool:
    if code == 429:
        return True
    if 400 <= code < 500:
        return bool(_TEMPORARY.search(text)) or (code == 421 and "rate" in text.lower())
    return code >= 500 and bool(_QUOTA.search(text))


def throttle_in(outcome: Outcome) -> str | None:
    """The provider's "slow down" answer in an outcome, if it gave one."""
    if outcome.retry_after is not None:
        detail = next(iter(outcome.deferred.values()), (429, "throttled"))
        return f"{detail[0]} {detail[1]}"
    for code, text in [*outcome.deferred.values(), *outcome.refused.values()]:
        if is_throttle(code, text):
            return f"{code} {text}"
    return None
