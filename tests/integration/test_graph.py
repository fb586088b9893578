"""Microsoft 365 through Graph, against the local Graph and identity servers: the delta query
with paging and a persisted delta link, $value, mark read / move only after commit, 401 and
throttling, sendMail with a copy in Sent Items, and reconnect resuming from the cursor."""

from __future__ import annotations

from email import message_from_bytes

import pytest
from sqlalchemy import Engine, select

from postroom.storage.db import unit_of_work
from postroom.storage.models import FetchCursor
from tests.conftest import Cli
from tests.integration.oauthhelpers import add_apps, add_cloud_servers, connect, ok
from tests.mailfactory import email_from
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer

DESK = "desk@contoso.test"


def _desk(cli: Cli, cloud: IdentityServer, graph: GraphServer, *extra: str) -> None:
    add_apps(cli)
    add_cloud_servers(cli, graph, None)
    ok(cli, "workflow", "add", "Support", "--steps", "New,Triage,Done")
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
        *extra,
    )
    connect(cli, cloud, DESK)


def _mails(n: int, start: int = 0) -> list[bytes]:
    return [
        email_from(f"user{i}@example.org", subject=f"Ticket {i}") for i in range(start, start + n)
    ]


def _delta_calls(graph: GraphServer) -> list[dict[str, str]]:
    return [query for _, _, path, query in graph.calls if path.endswith("/delta")]


def test_delta_pages_are_followed_and_the_delta_link_is_kept_for_the_next_run(
    cli: Cli, cloud: IdentityServer, graph: GraphServer, engine: Engine
) -> None:
    _desk(cli, cloud, graph)
    graph.page_size = 2
    graph.deliver(DESK, _mails(5))
    assert ok(cli, "fetch", "--once")[0]["opened"] == 5
    assert len(_delta_calls(graph)) == 3  # 2 + 2 + 1
    assert all(m.is_read for m in graph.in_folder(DESK))  # marked only after the commit
    with unit_of_work(engine) as db:
        token = db.scalar(select(FetchCursor.token))
    assert token is not None and "$deltatoken=" in token
    graph.deliver(DESK, _mails(1, start=5))
    assert ok(cli, "fetch", "--once")[0]["opened"] == 1
    assert "$deltatoken" in _delta_calls(graph)[3]
    assert len(ok(cli, "request", "list", "--limit", "0")) == 6


def test_an_expired_access_token_is_renewed_once_and_the_run_goes_on(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    _desk(cli, cloud, graph)
    graph.deliver(DESK, _mails(2))
    cloud.expire_access_tokens()
    runs = ok(cli, "fetch", "--once")
    assert (runs[0]["opened"], cloud.refresh_calls) == (2, 1)


@pytest.mark.parametrize("status", [429, 503])
def test_throttled_answers_are_waited_out_as_retry_after_says(
    status: int, cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    _desk(cli, cloud, graph)
    graph.deliver(DESK, _mails(1))
    graph.throttle(1, status, retry_after="1")
    assert ok(cli, "fetch", "--once")[0]["opened"] == 1
    (first, *_), (second, *_) = graph.calls[0], graph.calls[1]
    assert second - first >= 1.0  # the retry came no sooner than the server asked


def test_a_server_that_keeps_throttling_leaves_mail_in_place_for_the_next_round(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    _desk(cli, cloud, graph)
    graph.deliver(DESK, _mails(1))
    graph.throttle(1, 429, retry_after="3600")  # beyond what one round waits
    result = cli("fetch", "--once", "--json")
    assert result.code == 1 and "throttling" in result.stdout
    assert ok(cli, "mailbox", "show", DESK)["state"] == "unreachable"
    assert ok(cli, "fetch", "--once")[0]["opened"] == 1


@pytest.mark.parametrize("folder", ["archive", "Processed"])
def test_move_after_import_moves_each_message_once_it_is_stored(
    folder: str, cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    _desk(cli, cloud, graph, "--after-import", f"move:{folder}")
    graph.deliver(DESK, _mails(3))
    assert ok(cli, "fetch", "--once")[0]["opened"] == 3
    target = folder if folder == "archive" else graph.folder_named(DESK, folder)  # made once
    assert target is not None
    assert (len(graph.in_folder(DESK)), len(graph.in_folder(DESK, target))) == (0, 3)
    assert ok(cli, "fetch", "--once")[0]["fetched"] == 0  # moves show as removals: skipped


def test_a_revoked_grant_stops_only_that_mailbox_and_reconnect_resumes_without_duplicates(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    _desk(cli, cloud, graph)
    ok(
        cli,
        "mailbox",
        "add",
        "sales@contoso.test",
        "--incoming",
        "graph",
        "--oauth-app",
        "m365",
        "--workflow",
        "Support",
    )
    connect(cli, cloud, "sales@contoso.test")
    graph.deliver(DESK, _mails(2))
    assert ok(cli, "fetch", "--once", "--mailbox", DESK)[0]["opened"] == 2
    cloud.revoke(DESK)
    graph.deliver(DESK, _mails(2, start=2))
    graph.deliver("sales@contoso.test", _mails(1, start=10))
    result = cli("fetch", "--once", "--json")
    assert result.code == 1
    states = {m["address"]: m["state"] for m in ok(cli, "mailbox", "list")}
    assert states == {DESK: "needs-reconnect", "sales@contoso.test": "ok"}
    calls_before = len(_delta_calls(graph))
    cloud.sign_in_as = DESK
    ok(cli, "mailbox", "reconnect", DESK)  # consent again: the mailbox and its link are kept
    assert ok(cli, "fetch", "--once", "--mailbox", DESK)[0]["opened"] == 2
    assert "$deltatoken" in _delta_calls(graph)[calls_before]
    assert len(ok(cli, "request", "list", "--limit", "0")) == 5


def test_send_mail_goes_out_as_mime_with_bcc_and_is_saved_to_sent_items(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    _desk(cli, cloud, graph)
    ok(
        cli,
        "send",
        "--from",
        DESK,
        "--to",
        "ann@example.org",
        "--bcc",
        "boss@example.org",
        "--subject",
        "Your printer",
    )
    assert ok(cli, "outbox", "flush", "--once")["sent"] == 1
    ((user, raw, saved),) = graph.sent
    message = message_from_bytes(raw)
    assert (user, saved, message["Subject"], message["Bcc"]) == (
        DESK,
        True,
        "Your printer",
        "boss@example.org",
    )
    assert len(graph.in_folder(DESK, "sentitems")) == 1
    item = ok(cli, "outbox", "list")[0]
    assert item["state"] == "sent"


def test_mailbox_test_makes_one_authenticated_graph_call(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    _desk(cli, cloud, graph)
    graph.deliver(DESK, _mails(2))
    result = cli("mailbox", "test", DESK, "--json")
    assert result.code == 0, result.stdout
    assert "Inbox: 2 messages" in result.stdout
    cloud.revoke(DESK)
    assert cli("mailbox", "test", DESK).code == 1


def test_a_fresh_token_refused_again_means_needs_reconnect_after_one_renewal(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    _desk(cli, cloud, graph)
    graph.refuse_tokens = True
    result = cli("fetch", "--once", "--json")
    assert result.code == 1
    assert cloud.refresh_calls == 1  # renewed once, not in a loop
    shown = ok(cli, "mailbox", "show", DESK)
    assert shown["state"] == "needs-reconnect" and "refused" in shown["last_error"]
    actions = [e["action"] for e in ok(cli, "audit")]
    assert "mailbox.needs-reconnect" in actions
