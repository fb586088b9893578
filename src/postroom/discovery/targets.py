"""Which addresses discovery may reach. Any signed-in user can start discovery for any domain,
and a domain's owner decides what its names resolve to: without this check `imap.evil.test ->
127.0.0.1` would make postroom connect to its own internal services and report their banners."""

from __future__ import annotations

import socket
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from itertools import pairwise
from pathlib import Path

from postroom.discovery.context import DiscoveryContext
from postroom.discovery.model import Skipped

SHARED = ip_network("100.64.0.0/10")  # carrier-grade NAT: private in all but name


def is_private(address: str) -> bool:
    """Loopback, link-local, private, reserved, multicast or unspecified (v4, v6, v4-in-v6)."""
    try:
        ip: IPv4Address | IPv6Address = ip_address(address.split("%", 1)[0])
    except ValueError:
        return True  # not an address at all: never dial it
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, IPv4Address) and ip in SHARED)
    )


@lru_cache(maxsize=1)
def own_addresses() -> frozenset[str]:
    """This machine's own addresses (Linux: the kernel's local routes), public ones included."""
    found: set[str] = set()
    try:
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
    except OSError:
        lines = []
    for previous, line in pairwise(lines):
        if "/32 host LOCAL" in line:
            found.add(previous.strip().split()[-1])
    try:
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            raw = line.split()[0]
            found.add(str(ip_address(":".join(raw[i : i + 4] for i in range(0, 32, 4)))))
    except (OSError, ValueError, IndexError):
        pass
    return frozenset(found)


def forbidden(address: str) -> bool:
    return is_private(address) or address in own_addresses()


def check(ctx: DiscoveryContext, host: str, addresses: list[str]) -> None:
    """Raise Skipped when any address of `host` may not be reached."""
    if ctx.allow_private:
        return
    for address in addresses:
        if forbidden(address):
            raise Skipped(f"skipped: private address ({host} is {address})")


def check_url_host(ctx: DiscoveryContext, host: str, port: int) -> None:
    """The addresses an HTTPS download would connect to, checked before it does."""
    if ctx.allow_private:
        return
    try:
        addresses = [str(ip_address(host.strip("[]")))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            return  # the download itself will say the host cannot be reached
        addresses = [str(info[4][0]) for info in infos]
    check(ctx, host, addresses)
