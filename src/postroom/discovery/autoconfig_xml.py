"""Thunderbird's config-v1.1.xml (the autoconfig and ISPDB format) read into candidates.

defusedxml refuses DTDs, entity declarations and external references, so a hostile answer
(billion laughs, XXE) becomes a clean 'refused' outcome instead of a hung or leaking process.
"""

from __future__ import annotations

from dataclasses import replace
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeXml

from postroom.discovery import providers
from postroom.discovery.model import Candidate, SourceFailed
from postroom.domain import validate
from postroom.domain.settings import LoginFormat, OAuthProvider, Protocol, Security
from postroom.errors import InvalidInput

SOCKET_TYPES = {
    "ssl": Security.TLS,
    "tls": Security.TLS,
    "starttls": Security.STARTTLS,
    "plain": Security.NONE,
}
USERNAMES = {"%emailaddress%": LoginFormat.ADDRESS, "%emaillocalpart%": LoginFormat.LOCAL_PART}
SERVER_TAGS = {"incomingServer": (Protocol.IMAP, Protocol.POP3), "outgoingServer": (Protocol.SMTP,)}


def _root(data: bytes) -> Element:
    try:
        return SafeXml.fromstring(data, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise SourceFailed(f"refused a hostile XML answer ({type(exc).__name__}: {exc})") from exc
    except ParseError as exc:
        raise SourceFailed(f"the answer is not well-formed XML ({exc})") from exc


def _text(element: Element, tag: str) -> str:
    return (element.findtext(tag) or "").strip()


def _server(element: Element, address: str, source: str, provider: str | None) -> Candidate:
    kind = element.get("type", "").lower()
    allowed = SERVER_TAGS[element.tag]
    if kind not in {p.value for p in allowed}:
        raise InvalidInput(f"server type {kind!r} is not one postroom speaks")
    local, domain = address.rsplit("@", 1)
    host = validate.hostname(_text(element, "hostname").replace("%EMAILDOMAIN%", domain))
    try:
        port = validate.port(int(_text(element, "port")))
    except ValueError:
        raise InvalidInput(f"port {_text(element, 'port')!r} of {host} is not a number") from None
    security = SOCKET_TYPES.get(_text(element, "socketType").lower())
    if security is None:
        raise InvalidInput(f"socketType {_text(element, 'socketType')!r} of {host} is unknown")
    methods = {(m.text or "").strip().lower() for m in element.findall("authentication")}
    oauth = None
    if "oauth2" in methods:
        known = providers.for_host(host)
        oauth = known.oauth if known and known.oauth else OAuthProvider.GENERIC
    username = _text(element, "username").lower()
    return Candidate(
        protocol=Protocol(kind),
        host=host,
        port=port,
        security=security,
        login_format=USERNAMES.get(username, LoginFormat.CUSTOM),
        oauth_provider=oauth,
        source=source,
        provider=provider,
        note=""
        if username in USERNAMES
        else f"sign in as {username or 'the name you are given'}".replace(
            "%emaillocalpart%", local
        ).replace("%emaildomain%", domain),
    )


def parse(data: bytes, address: str, source: str) -> list[Candidate]:
    """Candidates in the file's order (its preference); entries postroom cannot use are
    skipped, and a file with nothing usable fails with the reasons."""
    root = _root(data)
    if root.tag != "clientConfig":
        raise SourceFailed(f"the answer is not an autoconfig file (root <{root.tag}>)")
    provider_element = root.find("emailProvider")
    if provider_element is None:
        raise SourceFailed("the autoconfig file has no <emailProvider>")
    provider = _text(provider_element, "displayName") or provider_element.get("id")
    found: dict[tuple[Protocol, str, int, Security], Candidate] = {}
    problems: list[str] = []
    for element in provider_element:
        if element.tag not in SERVER_TAGS:
            continue
        try:
            candidate = _server(element, address, source, provider)
        except InvalidInput as exc:
            problems.append(str(exc))
            continue
        known = found.get(candidate.key)
        if known is None:
            found[candidate.key] = candidate
        elif known.oauth_provider is None and candidate.oauth_provider:
            # One server listed twice, with a password and with OAuth2: offer OAuth2 on it.
            found[candidate.key] = replace(known, oauth_provider=candidate.oauth_provider)
    if not found and problems:
        raise SourceFailed("no usable server in the autoconfig file: " + "; ".join(problems))
    return list(found.values())
