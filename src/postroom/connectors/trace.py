"""Protocol traces at DEBUG show the shape of the talk and its sizes, never message content.

imapclient turns imaplib's trace into DEBUG records (`imapclient.imaplib`), and those carry
whole FETCH answers: raw emails, headers, envelopes. This filter rewrites every such record to
its first word and its length, and keeps only lines known to hold nothing but sizes and names.
"""

from __future__ import annotations

import logging
import re

TRACED = ("imapclient", "imapclient.imaplib")  # a logger's filters do not see its children
_SAFE = re.compile(
    r"(?:read|write) literal size \d+|imaplib version [\d.]+|new IMAP4 connection, tag=\S+"
    r"|Connected to host \S+ over [\w/ ]+|Logged out, connection closed"
)
_HEAD = 40


class SizesOnly(logging.Filter):
    """Keeps the record, replaces what it says by its first word and its size in bytes."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if not _SAFE.fullmatch(text):
            record.msg, record.args = "%s ... (%d bytes)", (_head(text), len(text))
        return True


def _head(text: str) -> str:
    word = text.split(" ", 1)[0][:_HEAD]
    return word if word.isascii() and word.isprintable() else "?"


def install() -> None:
    """Idempotent: each traced logger gets one filter, whoever configures logging later."""
    for name in TRACED:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SizesOnly) for f in logger.filters):
            logger.addFilter(SizesOnly())
