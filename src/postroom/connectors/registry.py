"""Which connector speaks which protocol: the one place a protocol name becomes a class."""

from __future__ import annotations

from collections.abc import Callable

from postroom.connectors.base import ApiSender, Connector
from postroom.connectors.gmail import GmailConnector
from postroom.connectors.graph import GraphConnector
from postroom.connectors.imap import ImapConnector
from postroom.connectors.pop3 import Pop3Connector
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import Protocol
from postroom.errors import InvalidInput

RECEIVERS: dict[Protocol, Callable[[Endpoint, Credentials], Connector]] = {
    Protocol.IMAP: ImapConnector,
    Protocol.POP3: Pop3Connector,
    Protocol.GRAPH: GraphConnector,
    Protocol.GMAIL: GmailConnector,
}
API_SENDERS: dict[Protocol, Callable[[Endpoint, Credentials], ApiSender]] = {
    Protocol.GRAPH: GraphConnector,
    Protocol.GMAIL: GmailConnector,
}


def open_receiver(endpoint: Endpoint, credentials: Credentials) -> Connector:
    try:
        factory = RECEIVERS[endpoint.protocol]
    except KeyError:
        raise InvalidInput(
            f"{endpoint.protocol.value} cannot receive mail: choose an IMAP, POP3, Graph or "
            "Gmail server."
        ) from None
    return factory(endpoint, credentials)


def open_api_sender(endpoint: Endpoint, credentials: Credentials) -> ApiSender:
    return API_SENDERS[endpoint.protocol](endpoint, credentials)
