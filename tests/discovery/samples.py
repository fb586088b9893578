"""Answers as the documented formats have them: Thunderbird's config-v1.1.xml and Microsoft's
autodiscover.json."""

from __future__ import annotations

import json
from collections.abc import Callable

# (element, type, hostname, port, socketType, username, authentication)
Server = tuple[str, str, str, int, str, str, str]


def _server(tag: str, kind: str, port: int) -> Callable[..., Server]:
    def make(
        host: str,
        port: int = port,
        socket_type: str = "SSL",
        auth: str = "password-cleartext",
        username: str = "%EMAILADDRESS%",
    ) -> Server:
        return (tag, kind, host, port, socket_type, username, auth)

    return make


imap = _server("incomingServer", "imap", 993)
smtp = _server("outgoingServer", "smtp", 465)


def config_xml(domain: str, *servers: Server, name: str = "Example Mail") -> bytes:
    parts = [
        f'<{tag} type="{kind}"><hostname>{host}</hostname><port>{port}</port>'
        f"<socketType>{socket_type}</socketType><username>{username}</username>"
        f"<authentication>{auth}</authentication></{tag}>"
        for tag, kind, host, port, socket_type, username, auth in servers
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<clientConfig version="1.1">'
        f'<emailProvider id="{domain}"><domain>{domain}</domain>'
        f"<displayName>{name}</displayName>{''.join(parts)}</emailProvider></clientConfig>"
    ).encode()


def autodiscover_json(url: str, protocol: str = "Ews") -> bytes:
    return json.dumps({"Protocol": protocol, "Url": url}).encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<clientConfig version="1.1"><emailProvider id="x"><displayName>&lol9;</displayName>
</emailProvider></clientConfig>"""


def external_entity(url: str) -> bytes:
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE clientConfig [<!ENTITY leak SYSTEM "' + url + '">]>\n'
        '<clientConfig version="1.1"><emailProvider id="x"><incomingServer type="imap">'
        "<hostname>&leak;</hostname><port>993</port><socketType>SSL</socketType>"
        "</incomingServer></emailProvider></clientConfig>"
    ).encode()
