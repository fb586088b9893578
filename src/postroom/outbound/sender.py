"""Transmit one email over an open SMTP session, recipient by recipient.

The end of DATA is the point of no return: once the final dot is sent the server may deliver
even if its answer never reaches us. `before_final_dot` lets the caller record that moment
durably first, so a crash before it means "not sent, retry" and a crash after it means
"maybe sent, never resend automatically" (RFC 1047's duplicate problem, decided for safety).
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

_BARE_LINE_ENDS = re.compile(rb"\r\n|\n|\r")
_LEADING_DOT = re.compile(rb"(?m)^\.")


@dataclass
class Outcome:
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)  # 5xx: permanent
    deferred: dict[str, tuple[int, str]] = field(default_factory=dict)  # 4xx: try again
    uncertain: str | None = None  # the answer to DATA was lost: it may have been delivered


def _text(message: bytes | str) -> str:
    return message.decode(errors="replace") if isinstance(message, bytes) else message


def _dot_stuffed(raw: bytes) -> bytes:
    data = _LEADING_DOT.sub(b"..", _BARE_LINE_ENDS.sub(b"\r\n", raw))
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _classify(outcome: Outcome, addresses: Sequence[str], code: int, message: str) -> None:
    target = outcome.deferred if 400 <= code < 500 else outcome.refused
    for address in addresses:
        target[address] = (code, message)


def transmit(
    client: smtplib.SMTP,
    sender: str,
    recipients: Sequence[str],
    raw: bytes,
    before_final_dot: Callable[[], None],
) -> Outcome:
    """Raises smtplib/OSError exceptions only before the final dot (nothing was sent then)."""
    outcome = Outcome()
    code, message = client.mail(sender)
    if code != 250:
        client.rset()
        _classify(outcome, recipients, code, _text(message))
        return outcome
    rcpt_ok: list[str] = []
    for address in recipients:
        code, message = client.rcpt(address)
        if code in (250, 251):
            rcpt_ok.append(address)
        else:
            _classify(outcome, [address], code, _text(message))
    if not rcpt_ok:
        client.rset()
        return outcome
    code, message = client.docmd("DATA")
    if code != 354:
        client.rset()
        _classify(outcome, rcpt_ok, code, _text(message))
        return outcome
    client.send(_dot_stuffed(raw))
    before_final_dot()
    try:
        client.send(b".\r\n")
        code, message = client.getreply()
    except (OSError, smtplib.SMTPServerDisconnected) as exc:
        outcome.uncertain = f"no answer to the end of DATA ({exc or type(exc).__name__})"
        return outcome
    if code == 250:
        outcome.accepted = rcpt_ok
    else:
        _classify(outcome, rcpt_ok, code, _text(message))
    return outcome
