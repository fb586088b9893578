"""The XOAUTH2 SASL initial response (Google's and Microsoft's profile of OAuth2 for IMAP,
POP3 and SMTP): the user and the access token, separated by ^A."""

from __future__ import annotations

import base64

from postroom.domain.endpoints import Credentials


def xoauth2(credentials: Credentials) -> str:
    return f"user={credentials.login}\x01auth=Bearer {credentials.password}\x01\x01"


def xoauth2_b64(credentials: Credentials) -> str:
    return base64.b64encode(xoauth2(credentials).encode()).decode()
