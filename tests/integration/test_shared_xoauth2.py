"""A shared mailbox over IMAP and SMTP with XOAUTH2: the shared address is the user name and
the token is the delegate's, exactly as Exchange Online wants it for shared mailboxes
(`user=<shared>^Aauth=Bearer <token>^A^A`); the mail a delegate sends on behalf carries the
shared address in From and the delegate in Sender."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes

import pytest

from tests.conftest import Cli
from tests.integration.mailhelpers import add_server
from tests.integration.oauthhelpers import add_apps, ok
from tests.servers.identity import IdentityServer
from tests.servers.xoauth2_recorder import XOAuth2Imap, XOAuth2Smtp

DESK = "desk@contoso.test"
ANN = "ann@contoso.test"


@pytest.fixture
def imap() -> Iterator[XOAuth2Imap]:
    with XOAuth2Imap() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[XOAuth2Smtp]:
    with XOAuth2Smtp() as server:
        yield server


def _desk(cli: Cli, cloud: IdentityServer, imap: XOAuth2Imap, smtp: XOAuth2Smtp) -> None:
    add_apps(cli)
    add_server(cli, "in", "imap", imap.port, "none")
    add_server(cli, "out", "smtp", smtp.port, "none")
    ok(cli, "user", "add", ANN, "--password-stdin", input="correct horse battery\n")
    ok(
        cli,
        "mailbox",
        "add",
        DESK,
        "--owner",
        ANN,
        "--incoming",
        "in",
        "--outgoing",
        "out",
        "--oauth-app",
        "m365",
        "--shared",
        "delegate",
        "--send-on-behalf",
    )
    cloud.sign_in_as = ANN
    ok(cli, "mailbox", "connect", DESK, "--oauth-app", "m365", "--owner", ANN)


def test_imap_and_smtp_sign_in_as_the_shared_mailbox_with_the_delegates_token(
    cli: Cli, cloud: IdentityServer, imap: XOAuth2Imap, smtp: XOAuth2Smtp
) -> None:
    _desk(cli, cloud, imap, smtp)
    ((token, grant),) = cloud.tokens.items()
    assert grant.account == ANN
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in grant.scope.split()
    expected = f"user={DESK}\x01auth=Bearer {token}\x01\x01"

    assert ok(cli, "fetch", "--once")[0]["fetched"] == 0
    assert imap.logins == [expected]

    ok(cli, "send", "--from", DESK, "--to", "customer@example.org", "--subject", "Hello")
    assert ok(cli, "outbox", "flush", "--once")["sent"] == 1
    assert smtp.logins == [expected]
    (raw,) = smtp.messages
    message = message_from_bytes(raw)
    assert (message["From"], message["Sender"]) == (DESK, ANN)


def test_a_shared_mailbox_refusing_the_delegate_asks_for_full_access_not_a_new_sign_in(
    cli: Cli, cloud: IdentityServer, imap: XOAuth2Imap, smtp: XOAuth2Smtp
) -> None:
    _desk(cli, cloud, imap, smtp)
    imap.refuse_login = True
    assert cli("fetch", "--once", "--json").code == 1
    assert len(imap.logins) == 2  # the token was renewed once, then the refusal is the right's
    shown = ok(cli, "mailbox", "show", DESK, "--owner", ANN)
    assert shown["state"] == "auth-failed"
    assert f"{ANN} has no Full Access to the shared mailbox {DESK}" in shown["last_error"]


def test_exchange_refusing_send_on_behalf_over_smtp_names_the_right(
    cli: Cli, cloud: IdentityServer, imap: XOAuth2Imap, smtp: XOAuth2Smtp
) -> None:
    _desk(cli, cloud, imap, smtp)
    smtp.refuse_data = (
        f"554 5.2.252 SendAsDenied; {ANN} not allowed to send as {DESK}; "
        "STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied"
    ).encode()
    ok(cli, "send", "--from", DESK, "--to", "customer@example.org", "--subject", "Hello")
    assert ok(cli, "outbox", "flush", "--once")["sent"] == 0
    item = str(ok(cli, "outbox", "list")[0])
    assert f"{ANN} has no Send on Behalf right on the shared mailbox {DESK}" in item
    assert "SendAsDenied" in item  # the server's own words are kept too
