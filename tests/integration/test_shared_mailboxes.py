"""Microsoft 365 shared mailboxes against the local Graph and identity servers: a system
mailbox reached with app-only access; a person's mailbox working a shared mailbox with their
own delegated sign-in (Mail.*.Shared), receiving, sending as and on behalf, the Sent copy kept
in the shared mailbox; and the refusals of a delegate without the right, named."""

from __future__ import annotations

from email import message_from_bytes

import pytest
from sqlalchemy import Engine

from postroom.config import get_settings
from postroom.services import push
from tests.conftest import Cli
from tests.integration.oauthhelpers import add_apps, add_cloud_servers, connect, ok
from tests.mailfactory import email_from
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer

DESK = "desk@contoso.test"  # the shared mailbox: no licence, no password, nobody signs in as it
ANN = "ann@contoso.test"  # an agent with rights on it


def _servers(cli: Cli, graph: GraphServer) -> None:
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    ok(cli, "workflow", "add", "Support", "--steps", "New,Triage,Done")


def _delegate(cli: Cli, cloud: IdentityServer, graph: GraphServer, *extra: str) -> None:
    """Ann adds the shared desk mailbox to her own and signs in as herself."""
    _servers(cli, graph)
    ok(cli, "user", "add", ANN, "--password-stdin", input="correct horse battery\n")
    ok(
        cli,
        "mailbox",
        "add",
        DESK,
        "--owner",
        ANN,
        "--incoming",
        "graph",
        "--outgoing",
        "graph",
        "--oauth-app",
        "m365",
        "--workflow",
        "Support",
        "--shared",
        "delegate",
        *extra,
    )
    cloud.sign_in_as = ANN
    ok(cli, "mailbox", "connect", DESK, "--oauth-app", "m365", "--owner", ANN)


def _send(cli: Cli) -> dict[str, object]:
    ok(cli, "send", "--from", DESK, "--to", "customer@example.org", "--subject", "Your ticket")
    return dict(ok(cli, "outbox", "flush", "--once"))


def test_a_shared_system_mailbox_is_read_and_sent_with_app_only_access(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    _servers(cli, graph)
    ok(
        cli,
        "mailbox",
        "add",
        DESK,
        "--incoming",
        "graph",
        "--outgoing",
        "graph",
        "--oauth-app",
        "m365",
        "--workflow",
        "Support",
        "--shared",
        "app-only",
    )
    shown = ok(cli, "mailbox", "connect", DESK, "--oauth-app", "m365", "--app-only")
    assert (shown["access"], shown["send_mode"]) == ("shared-app-only", None)
    graph.deliver(DESK, [email_from("customer@example.org", subject="Printer on fire")])
    assert ok(cli, "fetch", "--once")[0]["opened"] == 1
    assert all(m.is_read for m in graph.in_folder(DESK))
    assert _send(cli)["sent"] == 1
    ((user, raw, _),) = graph.sent
    message = message_from_bytes(raw)
    assert (user, message["From"], message["Sender"]) == (DESK, DESK, None)
    assert graph.sent_as == [(DESK, "app-only", "own")]
    assert len(graph.in_folder(DESK, "sentitems")) == 1


def test_a_delegate_receives_the_shared_mailbox_with_their_own_token_and_shared_scopes(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    graph.grant(DESK, ANN, "full-access")
    _delegate(cli, cloud, graph)
    graph.deliver(DESK, [email_from(f"user{i}@example.org", subject=f"Ticket {i}") for i in (1, 2)])
    assert ok(cli, "fetch", "--once")[0]["opened"] == 2
    assert all(m.is_read for m in graph.in_folder(DESK))  # marked read in the shared mailbox
    deltas = [path for _, _, path, _ in graph.calls if path.endswith("/delta")]
    assert deltas == [f"/v1.0/users/{DESK}/mailFolders/inbox/messages/delta"]
    ((token),) = cloud.tokens.values()
    assert token.account == ANN  # the delegate's token, never one of the shared mailbox
    scopes = set(token.scope.split())
    assert {
        "offline_access",
        "https://graph.microsoft.com/Mail.ReadWrite.Shared",
        "https://graph.microsoft.com/Mail.Send.Shared",
    } <= scopes
    assert "https://graph.microsoft.com/Mail.ReadWrite" not in scopes
    shown = ok(cli, "mailbox", "show", DESK, "--owner", ANN)
    assert (shown["access"], shown["send_mode"], shown["oauth_account"]) == (
        "shared-delegate",
        "send-as",
        ANN,
    )


def test_a_delegate_who_only_reads_asks_for_mail_read_shared(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    graph.grant(DESK, ANN, "full-access")
    _delegate(cli, cloud, graph, "--after-import", "keep")
    graph.deliver(DESK, [email_from("customer@example.org", subject="Kept")])
    assert ok(cli, "fetch", "--once")[0]["opened"] == 1
    ((token),) = cloud.tokens.values()
    assert "https://graph.microsoft.com/Mail.Read.Shared" in token.scope.split()
    assert "https://graph.microsoft.com/Mail.ReadWrite.Shared" not in token.scope.split()


def test_a_delegate_without_full_access_is_told_which_right_is_missing_and_who_grants_it(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    _delegate(cli, cloud, graph)  # no rights granted on the desk mailbox
    graph.deliver(DESK, [email_from("customer@example.org", subject="Unseen")])
    result = cli("fetch", "--once", "--json")
    assert result.code == 1
    shown = ok(cli, "mailbox", "show", DESK, "--owner", ANN)
    assert shown["state"] == "auth-failed"
    error = str(shown["last_error"])
    assert f"{ANN} has no Full Access to the shared mailbox {DESK}" in error
    assert "Exchange administrator" in error and "Add-MailboxPermission" in error
    assert graph.in_folder(DESK)[0].is_read is False  # nothing touched


def test_send_as_goes_out_from_the_shared_address_and_is_kept_in_its_sent_items(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    graph.grant(DESK, ANN, "full-access", "send-as")
    _delegate(cli, cloud, graph, "--send-as")
    assert _send(cli)["sent"] == 1
    ((user, raw, _),) = graph.sent
    message = message_from_bytes(raw)
    assert (user, message["From"], message["Sender"]) == (DESK, DESK, None)
    assert graph.sent_as == [(DESK, ANN, "send-as")]
    assert (len(graph.in_folder(DESK, "sentitems")), graph.in_folder(ANN, "sentitems")) == (1, [])


def test_send_on_behalf_names_the_delegate_as_sender(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    graph.grant(DESK, ANN, "full-access", "send-on-behalf")
    _delegate(cli, cloud, graph, "--send-on-behalf")
    assert _send(cli)["sent"] == 1
    ((user, raw, _),) = graph.sent
    message = message_from_bytes(raw)
    assert (user, message["From"], message["Sender"]) == (DESK, DESK, ANN)
    assert graph.sent_as == [(DESK, ANN, "send-on-behalf")]
    assert (len(graph.in_folder(DESK, "sentitems")), graph.in_folder(ANN, "sentitems")) == (1, [])


def test_send_as_without_the_send_as_right_is_refused_with_the_right_named(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    graph.grant(DESK, ANN, "full-access")
    _delegate(cli, cloud, graph, "--send-as")
    assert _send(cli)["sent"] == 0
    assert graph.sent == []
    item = ok(cli, "outbox", "list")[0]
    assert item["state"] == "failed"
    error = str(item)
    assert f"{ANN} has no Send As right on the shared mailbox {DESK}" in error
    assert "Add-RecipientPermission" in error


def test_switching_to_send_on_behalf_then_sends(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    graph.grant(DESK, ANN, "full-access", "send-on-behalf")
    _delegate(cli, cloud, graph)
    shown = ok(cli, "mailbox", "edit", DESK, "--owner", ANN, "--send-on-behalf")
    assert shown["send_mode"] == "send-on-behalf" and shown["oauth_tokens_set"]
    assert _send(cli)["sent"] == 1
    assert message_from_bytes(graph.sent[0][1])["Sender"] == ANN


def test_a_delegate_without_send_rights_on_behalf_is_told_so(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    graph.grant(DESK, ANN, "full-access")
    _delegate(cli, cloud, graph, "--send-on-behalf")
    assert _send(cli)["sent"] == 0
    error = str(ok(cli, "outbox", "list")[0])
    assert f"{ANN} has no Send on Behalf right on the shared mailbox {DESK}" in error
    assert "GrantSendOnBehalfTo" in error


def test_shared_mailboxes_refuse_settings_that_cannot_work(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    _servers(cli, graph)
    base = ("mailbox", "add", DESK, "--incoming", "graph", "--outgoing", "graph")
    no_app = cli(*base, "--shared", "delegate", "--password-stdin", input="x\n")
    assert no_app.code == 1 and "Microsoft OAuth app" in no_app.stderr
    mode = cli(*base, "--oauth-app", "m365", "--shared", "app-only", "--send-on-behalf")
    assert mode.code == 1 and "leave the send mode out" in mode.stderr
    own = cli(*base, "--oauth-app", "m365", "--send-as")
    assert own.code == 1 and "--shared delegate" in own.stderr
    assert ok(cli, "mailbox", "list") == []


def test_signing_in_as_someone_else_is_still_refused_for_an_own_mailbox(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    _servers(cli, graph)
    ok(cli, "mailbox", "add", DESK, "--incoming", "graph", "--oauth-app", "m365")
    cloud.sign_in_as = ANN
    result = cli("mailbox", "connect", DESK, "--oauth-app", "m365")
    assert result.code == 1 and "--shared delegate" in result.stderr
    connect(cli, cloud, DESK)  # the mailbox's own account is fine


def test_a_delegated_shared_mailbox_is_polled_since_graph_does_not_notify_for_it(
    cli: Cli,
    cloud: IdentityServer,
    graph: GraphServer,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTROOM_PUBLIC_URL", "http://127.0.0.1:9")  # push would be possible
    get_settings.cache_clear()
    graph.grant(DESK, ANN, "full-access")
    _delegate(cli, cloud, graph)
    push.keep_up(engine)
    assert graph.subscriptions == {} and graph.validations == []
    shown = ok(cli, "mailbox", "show", DESK, "--owner", ANN)["push"]
    assert shown["state"] == "polling" and "Mail.Read.Shared" in shown["reason"]
