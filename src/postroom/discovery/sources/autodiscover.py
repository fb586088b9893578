"""Microsoft Autodiscover v2 (autodiscover.json): which Exchange serves this mailbox. Exchange
Online means Microsoft 365's settings; an Exchange of the domain's own is named, and IMAP and
SMTP on it are offered as guesses the user must confirm."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from postroom.discovery import net, providers
from postroom.discovery.context import DiscoveryContext
from postroom.discovery.model import Candidate, Nothing, SourceFailed, from_setting
from postroom.domain import validate
from postroom.domain.settings import LoginFormat, Protocol, Security
from postroom.errors import InvalidInput

EXCHANGE_ONLINE_HOSTS = ("outlook.office365.com", "outlook.office.com")


def _answer(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise SourceFailed(f"the Autodiscover answer is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise SourceFailed("the Autodiscover answer is not a JSON object")
    if "ErrorCode" in data:
        raise Nothing(f"Autodiscover: {data.get('ErrorCode')}: {data.get('ErrorMessage', '')}")
    return data


class Autodiscover:
    name = "autodiscover"
    description = "Microsoft Autodiscover v2 (autodiscover.json)"

    def lookup(self, address: str, ctx: DiscoveryContext) -> list[Candidate]:
        data = _answer(net.fetch(ctx, ctx.url(ctx.autodiscover_url, address, protocol="Ews")))
        url = data.get("Url")
        try:
            host = validate.hostname(urlsplit(url).hostname or "" if isinstance(url, str) else "")
        except InvalidInput as exc:
            raise SourceFailed(f"the Autodiscover answer has no usable Url ({url!r})") from exc
        if host in EXCHANGE_ONLINE_HOSTS:
            online = providers.BY_KEY["microsoft365"]
            note = f"Exchange Online serves this mailbox ({host})"
            return [
                from_setting(s, self.name, online.name, online.oauth, note) for s in online.servers
            ]
        note = f"Exchange at {host} serves this mailbox; IMAP and SMTP there are a guess"
        return [
            Candidate(
                Protocol.IMAP,
                host,
                993,
                Security.TLS,
                LoginFormat.ADDRESS,
                None,
                self.name,
                guessed=True,
                note=note,
            ),
            Candidate(
                Protocol.SMTP,
                host,
                587,
                Security.STARTTLS,
                LoginFormat.ADDRESS,
                None,
                self.name,
                guessed=True,
                note=note,
            ),
        ]
