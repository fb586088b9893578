"""Which connector speaks which protocol: the one place a protocol name becomes a class."""

from __future__ import annotations

from collections.abc import Callable

from postroom.connectors.base import Connector
from postroom.connectors.imap import ImapConnector
from postroom.connectors.pop3 import Pop3Connector
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import Protocol
from postroom.errors import InvalidInput

RECEIVERS: dict[Protocol, Callable[[Endpoint, Credentials], Connector]] = {
    Protocol.IMAP: ImapConnector,
    Protocol.POP3: Pop3Connector,
}


def open_receiver(endpoint: Endpoint, credentials: Credentials) -> Connector:
    try:
        factory = RECEIVERS[endpoint.protocol]
    except KeyError:
        raise InvalidInput(
            f"Receiving over {endpoint.protocol.value} needs OAuth2 sign-in, which is not set up."
        ) from None
    return factory(endpoint, credentials)
