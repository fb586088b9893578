"""A protocol library's error as the server's own words: never a Python bytes literal.

imaplib and poplib raise their errors with the server's answer as bytes, so `str(exc)` reads
`b'[AUTHENTICATIONFAILED] Authentication failed.'`; a person must see the text itself.
"""

from __future__ import annotations

import ast
import re

# imapclient re-raises imaplib's errors as str(error), so the literal arrives already spelt out.
BYTES_LITERAL = re.compile(r"""(?<!\w)b(['"])(.*?)\1""", re.DOTALL)


def _unliteral(found: re.Match[str]) -> str:
    try:
        value = ast.literal_eval(found.group(0))
    except (ValueError, SyntaxError):
        return found.group(2)
    return bytes(value).decode("utf-8", "replace")


def text_of(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return BYTES_LITERAL.sub(_unliteral, str(value))


def words(exc: BaseException) -> str:
    """The error's message with every bytes argument decoded; empty pieces dropped."""
    parts = [text_of(arg).strip() for arg in exc.args]
    text = " ".join(part for part in parts if part)
    return text or type(exc).__name__
