"""An activity's link back to its request, where a calendar has no field for it (Graph, or a
relative link Google will not take as an event's source): the last line of the body."""

from __future__ import annotations

LINK_LABEL = "Request: "


def join_link(body: str, link: str) -> str:
    if not link:
        return body
    return f"{body}\n\n{LINK_LABEL}{link}" if body else LINK_LABEL + link


def split_link(text: str) -> tuple[str, str]:
    """The body and the link, as join_link put them together (Outlook may answer in CRLF)."""
    body, _, last = text.replace("\r\n", "\n").rstrip().rpartition("\n")
    if not last.startswith(LINK_LABEL):
        return text.strip(), ""
    return body.rstrip(), last.removeprefix(LINK_LABEL).strip()
