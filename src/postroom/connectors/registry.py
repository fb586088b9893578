"""Which connector speaks which protocol: the one place a protocol name becomes a class.

Graph and Gmail are imported when one is opened: they bring httpx and authlib, which a process
that only speaks IMAP or POP3 (most `fetch --once` calls) never needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from postroom.connectors.base import ApiSender, Connector
from postroom.connectors.imap import ImapConnector
from postroom.connectors.pop3 import Pop3Connector
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import Protocol
from postroom.errors import InvalidInput

if TYPE_CHECKING:
    from postroom.connectors.gmail import GmailConnector
    from postroom.connectors.graph import GraphConnector


def _graph(endpoint: Endpoint, credentials: Credentials) -> GraphConnector:
    from postroom.connectors.graph import GraphConnector

    return GraphConnector(endpoint, credentials)


def _gmail(endpoint: Endpoint, credentials: Credentials) -> GmailConnector:
    from postroom.connectors.gmail import GmailConnector

    return GmailConnector(endpoint, credentials)


RECEIVERS: dict[Protocol, Callable[[Endpoint, Credentials], Connector]] = {
    Protocol.IMAP: ImapConnector,
    Protocol.POP3: Pop3Connector,
    Protocol.GRAPH: _graph,
    Protocol.GMAIL: _gmail,
}
API_SENDERS: dict[Protocol, Callable[[Endpoint, Credentials], ApiSender]] = {
    Protocol.GRAPH: _graph,
    Protocol.GMAIL: _gmail,
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
