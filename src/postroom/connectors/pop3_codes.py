"""POP3 extended response codes (RFC 2449, RFC 3206): what a refused sign-in really means.

`-ERR [LOGIN-DELAY] …` is not a wrong password: the server asks us to come back later. Without
a code the refusal is taken as credentials, as every POP3 client does; the server's own words
are always shown, never a guess.
"""

from __future__ import annotations

import re

from postroom.connectors.server_words import words
from postroom.errors import AuthFailed, PostroomError, ServerFault, TokenRejected, TryLater

CODE = re.compile(r"^-ERR\s*\[([A-Za-z0-9/-]+)\]", re.IGNORECASE)
LATER = {"LOGIN-DELAY", "IN-USE", "SYS/TEMP"}


def response_code(answer: str) -> str | None:
    """The bracketed code of a -ERR line, upper case; only its first level if unknown."""
    found = CODE.match(answer.strip())
    return found.group(1).upper() if found else None


def refusal(exc: BaseException, login: str, *, bearer: bool = False) -> PostroomError:
    """The error for a refused USER/PASS/AUTH, by its response code."""
    said = words(exc)
    code = response_code(said)
    if code in LATER:
        return TryLater(f"The POP3 server asks to come back later: {said}")
    if code == "SYS/PERM":
        return ServerFault(f"The POP3 server reports a problem of its own: {said}")
    if bearer:
        return TokenRejected(f"The POP3 server refused the access token of {login!r}: {said}")
    return AuthFailed(f"The POP3 server refused the login {login!r}: {said}")


def login_delay(capabilities: dict[str, list[str]]) -> int | None:
    """Seconds the server wants between logins (CAPA `LOGIN-DELAY 900`), or None."""
    for name, arguments in capabilities.items():
        if name.upper() == "LOGIN-DELAY" and arguments and arguments[0].isdigit():
            return int(arguments[0])
    return None
