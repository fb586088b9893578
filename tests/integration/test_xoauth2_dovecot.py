"""XOAUTH2 for IMAP, POP3 and SMTP submission with the mailbox's access token: the real
Dovecot checks each token at the local identity server's introspection endpoint (its oauth2
passdb) and relays submitted mail to a local SMTP server."""

from __future__ import annotations

import imaplib
from collections.abc import Iterator

import pytest

from tests.cloud_fixtures import CLIENT_ID, CLIENT_SECRET, GOOGLE_ID
from tests.conftest import USERS, Cli
from tests.integration.mailhelpers import add_server
from tests.integration.oauthhelpers import add_apps, connect, ok
from tests.mailfactory import email_from
from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot
from tests.servers.identity import IdentityServer
from tests.servers.smtp import SmtpServer

DESK = "desk@example.test"


@pytest.fixture(scope="module")
def shared_identity(test_ca: TestCA) -> Iterator[IdentityServer]:
    with IdentityServer(test_ca) as server:
        server.register(CLIENT_ID, CLIENT_SECRET)
        server.register(GOOGLE_ID, CLIENT_SECRET)
        yield server


@pytest.fixture
def identity(shared_identity: IdentityServer) -> IdentityServer:
    """Dovecot is told the introspection URL at start, so the tests share one server."""
    shared_identity.refresh_calls = 0
    return shared_identity


@pytest.fixture(scope="module")
def relay(test_ca: TestCA) -> Iterator[SmtpServer]:
    """Where Dovecot's submission service hands on the mail it accepted."""
    with SmtpServer(ca=test_ca, tls=False) as server:
        yield server


@pytest.fixture(scope="module")
def oauth_dovecot(
    test_ca: TestCA, shared_identity: IdentityServer, relay: SmtpServer
) -> Iterator[Dovecot]:
    with Dovecot(
        users=USERS,
        ca=test_ca,
        oauth2_introspection_url=shared_identity.introspection_url,
        submission_relay_port=relay.port,
    ) as server:
        yield server


def _desk(cli: Cli, cloud: IdentityServer, protocol: str, port: int, after: str) -> None:
    add_apps(cli)
    ok(cli, "workflow", "add", "Support", "--steps", "New,Triage,Done")
    add_server(cli, "in", protocol, port, "none")
    ok(
        cli,
        "mailbox",
        "add",
        DESK,
        "--incoming",
        "in",
        "--oauth-app",
        "m365",
        "--workflow",
        "Support",
        "--after-import",
        after,
    )
    connect(cli, cloud, DESK)


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_mail_is_fetched_with_xoauth2_and_an_expired_token_is_renewed_once(
    protocol: str, cli: Cli, cloud: IdentityServer, oauth_dovecot: Dovecot
) -> None:
    port = oauth_dovecot.imap_port if protocol == "imap" else oauth_dovecot.pop3_port
    _desk(cli, cloud, protocol, port, "delete")
    oauth_dovecot.deliver(DESK, [email_from("ann@example.org", subject="Printer on fire")])
    assert ok(cli, "fetch", "--once")[0]["opened"] == 1
    assert cloud.refresh_calls == 0
    cloud.expire_access_tokens()  # Dovecot's introspection now says inactive
    oauth_dovecot.deliver(DESK, [email_from("bob@example.org", subject="Paper jam")])
    runs = ok(cli, "fetch", "--once")
    assert (runs[0]["ok"], runs[0]["opened"], cloud.refresh_calls) == (True, 1, 1)
    assert oauth_dovecot.count(DESK) == 0


def test_a_revoked_grant_stops_the_mailbox_without_trying_a_password(
    cli: Cli, cloud: IdentityServer, oauth_dovecot: Dovecot
) -> None:
    _desk(cli, cloud, "imap", oauth_dovecot.imap_port, "keep")
    cloud.revoke(DESK)
    result = cli("fetch", "--once", "--json")
    assert result.code == 1
    shown = ok(cli, "mailbox", "show", DESK)
    assert shown["state"] == "needs-reconnect" and shown["password_set"] is False
    assert "invalid_grant" in shown["last_error"]


def test_submission_sends_with_xoauth2_and_waits_while_the_sign_in_is_gone(
    cli: Cli, cloud: IdentityServer, oauth_dovecot: Dovecot, relay: SmtpServer
) -> None:
    relay.clear()
    add_apps(cli)
    add_server(cli, "out", "smtp", oauth_dovecot.submission_port, "none")
    ok(cli, "mailbox", "add", DESK, "--outgoing", "out", "--oauth-app", "m365")
    connect(cli, cloud, DESK)
    ok(cli, "send", "--from", DESK, "--to", "ann@example.org", "--subject", "Hello")
    assert ok(cli, "outbox", "flush", "--once")["sent"] == 1
    assert [(m.mail_from, m.rcpt_tos) for m in relay.wait_for(1)] == [(DESK, ["ann@example.org"])]
    cloud.revoke(DESK)
    ok(cli, "send", "--from", DESK, "--to", "ann@example.org", "--subject", "Again")
    flushed = cli("outbox", "flush", "--once", "--json")
    assert flushed.code == 1 and "invalid_grant" in flushed.stdout
    assert ok(cli, "mailbox", "show", DESK)["state"] == "needs-reconnect"
    assert cli("outbox", "flush", "--once", "--retry-now").code == 0
    assert [i["state"] for i in ok(cli, "outbox", "list")] == ["queued", "sent"]
    connect(cli, cloud, DESK)  # signed in again: the waiting email goes out
    assert ok(cli, "outbox", "flush", "--once", "--retry-now")["sent"] == 1
    assert len(relay.wait_for(2)) == 2


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_mailbox_test_signs_in_with_xoauth2(
    protocol: str, cli: Cli, cloud: IdentityServer, oauth_dovecot: Dovecot
) -> None:
    port = oauth_dovecot.imap_port if protocol == "imap" else oauth_dovecot.pop3_port
    _desk(cli, cloud, protocol, port, "keep")
    result = cli("mailbox", "test", DESK, "--json")
    assert result.code == 0, result.stdout
    assert f"signed in as {DESK}" in result.stdout


def test_the_password_passdb_refuses_a_token_and_the_oauth2_one_a_password(
    oauth_dovecot: Dovecot, cloud: IdentityServer
) -> None:
    """The set-up the tests rely on: tokens only through XOAUTH2, passwords only as passwords."""
    token = cloud.issue(DESK, CLIENT_ID, "IMAP.AccessAsUser.All")
    client = imaplib.IMAP4("127.0.0.1", oauth_dovecot.imap_port)
    with pytest.raises(imaplib.IMAP4.error):
        client.login(DESK, token)
    client.authenticate("XOAUTH2", lambda _: f"user={DESK}\x01auth=Bearer {token}\x01\x01".encode())
    client.logout()
