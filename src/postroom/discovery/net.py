"""The two network reads every source shares, each mapping failures onto the three outcomes a
person sees: nothing published there, an unusable answer, or no answer in time."""

from __future__ import annotations

from urllib.parse import urlsplit

import dns.exception
import dns.resolver
import httpx

from postroom.discovery import targets
from postroom.discovery.context import MAX_ANSWER_BYTES, DiscoveryContext
from postroom.discovery.model import Nothing, SourceFailed

NOT_PUBLISHED = {404, 410}


def fetch(ctx: DiscoveryContext, url: str) -> bytes:
    """GET a small document over verified HTTPS; no credentials, no redirects."""
    parts = urlsplit(url)
    host = parts.netloc
    targets.check_url_host(ctx, parts.hostname or "", parts.port or 443)
    try:
        with ctx.http_client() as client, client.stream("GET", url) as response:
            if response.status_code in NOT_PUBLISHED:
                raise Nothing(f"{host} publishes nothing there (HTTP {response.status_code})")
            if response.status_code != 200:
                raise SourceFailed(f"{host} answered HTTP {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise SourceFailed(f"{host} sent more than {MAX_ANSWER_BYTES} bytes")
            return bytes(body)
    except httpx.TimeoutException as exc:
        raise TimeoutError(f"{host} did not answer within {ctx.timeout:g} s") from exc
    except httpx.ConnectError as exc:
        if "CERTIFICATE" in str(exc) or "SSL" in str(exc):
            raise SourceFailed(f"{host}: TLS failed ({exc})") from exc
        raise Nothing(f"{host} cannot be reached ({exc})") from exc
    except httpx.HTTPError as exc:
        raise SourceFailed(f"{host}: {exc}") from exc


def query(ctx: DiscoveryContext, name: str, rdtype: str) -> dns.resolver.Answer:
    try:
        return ctx.resolver().resolve(name, rdtype, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer) as exc:
        raise Nothing(f"no {rdtype} record for {name}") from exc
    except dns.exception.Timeout as exc:
        raise TimeoutError(f"the DNS server gave no {rdtype} answer for {name} in time") from exc
    except dns.exception.DNSException as exc:
        raise SourceFailed(f"DNS {rdtype} lookup for {name} failed: {exc}") from exc


def addresses(ctx: DiscoveryContext, host: str) -> list[str]:
    """IPv4 then IPv6 addresses, through the context's resolver only."""
    found: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            found += [r.to_text() for r in query(ctx, host, rdtype)]
        except Nothing:
            continue
    if not found:
        raise Nothing(f"{host} has no address")
    return found
