"""The outbox keeps Bcc in the envelope only; mail APIs take recipients from the headers, so
the envelope's extra recipients are added as a Bcc header, which the provider strips."""

from __future__ import annotations

from collections.abc import Sequence
from email.parser import BytesHeaderParser
from email.utils import getaddresses


def with_bcc(raw: bytes, recipients: Sequence[str]) -> bytes:
    headers = BytesHeaderParser().parsebytes(raw)
    shown = {
        a.lower() for _, a in getaddresses(headers.get_all("To", []) + headers.get_all("Cc", []))
    }
    hidden = [r for r in recipients if r.lower() not in shown]
    if not hidden:
        return raw
    return b"Bcc: " + ", ".join(hidden).encode() + b"\r\n" + raw
