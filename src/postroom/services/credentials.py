"""How a mailbox signs in to one of its servers: a password, or an OAuth2 access token.

Its own module because everything that talks to a server needs it (fetching, delivery, sent
copies, connection tests, the IDLE watchers), and it needs the token store beneath them all:
kept in connection_tests.py it made six service modules import each other in a circle.
"""

from __future__ import annotations

from postroom.domain.endpoints import Credentials
from postroom.errors import InvalidInput
from postroom.services import mailboxes, tokens
from postroom.storage.models import Connection, Mailbox, Server


def credentials_of(mailbox: Mailbox, server: Server) -> Credentials | None:
    """An OAuth2 mailbox signs in with its access token and nothing else: never a password."""
    if mailbox.oauth_app_id is not None:
        return tokens.credentials_for(mailbox)
    password = mailboxes.password_of(mailbox)
    if password is None:
        return None
    return Credentials(login=mailboxes.login_for(mailbox, server), password=password)


def for_connection(connection: Connection) -> Credentials | None:
    """What a named connection signs in with, the same for sending and for its test (which must
    try exactly what sending will): nothing for a relay, else its mailbox's own credentials."""
    if connection.auth == "none":
        return None
    server = connection.mailbox.outgoing_server
    if server is None:
        raise InvalidInput(f"{connection.mailbox.address} cannot send: it has no outgoing server.")
    return credentials_of(connection.mailbox, server)
