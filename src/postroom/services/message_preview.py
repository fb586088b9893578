"""What the request page shows of one email: its text, cut when huge, and its attachments. A
20 MB body is never turned into text whole nor sent to the browser; the page says where it
was cut and offers the raw email instead."""

from __future__ import annotations

from typing import Any

from postroom.inbound.parse import attachments_of, parse_body

PREVIEW_KB = 100  # of text shown
READ_BYTES = 1024 * 1024  # of a large raw email, parsed for that text


def preview(raw: bytes) -> dict[str, Any]:
    cut = len(raw) > READ_BYTES
    text = parse_body(raw[:READ_BYTES] if cut else raw).text
    encoded = text.encode()
    if len(encoded) > PREVIEW_KB * 1024:
        text, cut = encoded[: PREVIEW_KB * 1024].decode(errors="ignore"), True
    return {
        "text": text,
        "text_cut": cut,
        "cut_kb": PREVIEW_KB if cut else None,
        "attachments": listed(raw),
    }


def listed(raw: bytes) -> list[dict[str, Any]]:
    return [
        {"index": i, "filename": a.filename, "content_type": a.content_type, "size": a.size}
        for i, a in enumerate(attachments_of(raw))
    ]
