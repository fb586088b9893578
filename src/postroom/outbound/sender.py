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
    retry_after: float | None = None  # a mail API said 429: seconds it asked us to wait


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
    client.ehlo_or_helo_if_needed()
    utf8 = needs_smtputf8(sender, recipients, raw)
    if utf8 and not client.has_extn("smtputf8"):
        _classify(outcome, recipients, *_no_smtputf8(sender, recipients))
        return outcome
    if client.has_extn("pipelining"):
        mail, answers, data = _pipelined(client, sender, recipients, utf8)
    else:
        mail, answers, data = _one_by_one(client, sender, recipients, utf8)
    if mail[0] != 250:
        _abandon(client, data)
        _classify(outcome, recipients, mail[0], _text(mail[1]))
        return outcome
    rcpt_ok: list[str] = []
    for address, (code, message) in zip(recipients, answers, strict=True):
        if code in (250, 251):
            rcpt_ok.append(address)
        else:
            _classify(outcome, [address], code, _text(message))
    if not rcpt_ok or data[0] != 354:
        _abandon(client, data)
        if rcpt_ok:
            _classify(outcome, rcpt_ok, data[0], _text(data[1]))
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


_Reply = tuple[int, bytes]


def needs_smtputf8(sender: str, recipients: Sequence[str], raw: bytes) -> bool:
    """A UTF-8 local part (RFC 6531) in the envelope or the headers; IDN domains were already
    written as IDNA when the email was queued, so they never need it."""
    end = raw.find(b"\r\n\r\n")
    headers = raw if end < 0 else raw[:end]
    return not (all(a.isascii() for a in (sender, *recipients)) and headers.isascii())


def _no_smtputf8(sender: str, recipients: Sequence[str]) -> tuple[int, str]:
    utf8 = next((a for a in (sender, *recipients) if not a.isascii()), "an address")
    return (
        553,
        f"5.6.7 not sent: {utf8} has a non-ASCII name before the @, and this server does not "
        "offer SMTPUTF8, which such an address needs: send through a server that offers it, or "
        "ask the recipient for an ASCII address",
    )


def _pipelined(
    client: smtplib.SMTP, sender: str, recipients: Sequence[str], utf8: bool
) -> tuple[_Reply, list[_Reply], _Reply]:
    """MAIL, every RCPT and DATA in one write (RFC 2920), then their answers in order: two
    round trips an email fewer, which is most of the time an email takes to a distant server."""
    # Addresses were checked as plain addr-specs when queued: no parsing needed to quote them.
    mail_from = f"MAIL FROM:<{sender}>" + (" SMTPUTF8" if utf8 else "")
    commands = [mail_from, *(f"RCPT TO:<{a}>" for a in recipients)]
    client.send("".join(f"{c}\r\n" for c in [*commands, "DATA"]).encode())
    mail = client.getreply()
    answers = [client.getreply() for _ in recipients]
    return mail, answers, client.getreply()


def _one_by_one(
    client: smtplib.SMTP, sender: str, recipients: Sequence[str], utf8: bool
) -> tuple[_Reply, list[_Reply], _Reply]:
    mail = client.mail(sender, ["SMTPUTF8"] if utf8 else [])  # smtplib then speaks UTF-8
    if mail[0] != 250:
        return mail, [mail for _ in recipients], (0, b"")
    answers = [client.rcpt(address) for address in recipients]
    if not any(code in (250, 251) for code, _ in answers):
        return mail, answers, (0, b"")
    return mail, answers, client.docmd("DATA")


def _abandon(client: smtplib.SMTP, data: _Reply) -> None:
    """Leave a transaction that will not be sent. A server that answered DATA with 354 anyway
    (it accepted no recipient, so it can deliver nothing) waits for the end of data first."""
    try:
        if data[0] == 354:
            client.send(b".\r\n")
            client.getreply()
        client.rset()
    except (smtplib.SMTPServerDisconnected, OSError):
        pass  # a server that closed after its 421: the answer is already in hand
