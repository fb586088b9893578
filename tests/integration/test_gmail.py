"""Gmail through its API, against the local Gmail and Google OAuth servers: a full listing
first, then history.list from the stored history id (a 404 means a full resync, without
duplicates), format=raw, labels changed after commit, messages.send, 401 and 429."""

from __future__ import annotations

from email import message_from_bytes

from sqlalchemy import Engine, select

from postroom.storage.db import unit_of_work
from postroom.storage.models import FetchCursor
from tests.conftest import Cli
from tests.integration.oauthhelpers import add_apps, add_cloud_servers, connect, ok
from tests.mailfactory import email_from
from tests.servers.gmail import GmailServer
from tests.servers.identity import IdentityServer

ANN = "ann@gmail.test"


def _desk(cli: Cli, cloud: IdentityServer, gmail: GmailServer, *extra: str) -> None:
    add_apps(cli)
    add_cloud_servers(cli, None, gmail)
    ok(cli, "workflow", "add", "Support", "--steps", "New,Triage,Done")
    ok(
        cli,
        "mailbox",
        "add",
        ANN,
        "--incoming",
        "gmail",
        "--outgoing",
        "gmail",
        "--oauth-app",
        "google",
        "--workflow",
        "Support",
        *extra,
    )
    connect(cli, cloud, ANN, "google")


def _mails(n: int, start: int = 0) -> list[bytes]:
    return [
        email_from(f"user{i}@example.org", subject=f"Case {i}") for i in range(start, start + n)
    ]


def _history_id(engine: Engine) -> str | None:
    with unit_of_work(engine) as db:
        return db.scalar(select(FetchCursor.token))


def test_first_run_lists_the_inbox_then_follows_history_and_marks_read_after_commit(
    cli: Cli, cloud: IdentityServer, gmail: GmailServer, engine: Engine
) -> None:
    _desk(cli, cloud, gmail)
    gmail.page_size = 2
    gmail.deliver(ANN, _mails(3))
    assert ok(cli, "fetch", "--once")[0]["opened"] == 3
    assert gmail.with_label(ANN, "UNREAD") == []
    first = _history_id(engine)
    gmail.deliver(ANN, _mails(3, start=3))
    assert ok(cli, "fetch", "--once")[0]["opened"] == 3
    second = _history_id(engine)
    assert first is not None and second is not None and int(second) > int(first)
    subjects = sorted(r["subject"] for r in ok(cli, "request", "list", "--limit", "0"))
    assert subjects == [f"Case {i}" for i in range(6)]


def test_history_gone_means_a_full_resync_without_duplicates(
    cli: Cli, cloud: IdentityServer, gmail: GmailServer
) -> None:
    _desk(cli, cloud, gmail, "--after-import", "keep")
    gmail.deliver(ANN, _mails(2))
    assert ok(cli, "fetch", "--once")[0]["opened"] == 2
    gmail.deliver(ANN, _mails(1, start=2))
    gmail.forget_history()  # history.list now answers 404 for the stored id
    run = ok(cli, "fetch", "--once")[0]
    assert (run["ok"], run["opened"]) == (True, 1)
    assert len(ok(cli, "request", "list", "--limit", "0")) == 3
    assert len(gmail.with_label(ANN, "INBOX")) == 3  # keep: nothing changed on the server


def test_expired_token_and_throttling_are_survived(
    cli: Cli, cloud: IdentityServer, gmail: GmailServer
) -> None:
    _desk(cli, cloud, gmail, "--after-import", "delete")
    gmail.deliver(ANN, _mails(2))
    cloud.expire_access_tokens()
    gmail.throttle(1)
    run = ok(cli, "fetch", "--once")[0]
    assert (run["opened"], cloud.refresh_calls) == (2, 1)
    assert len(gmail.with_label(ANN, "TRASH")) == 2
    assert cloud.token_requests[-1]["grant_type"] == "refresh_token"


def test_messages_send_carries_the_raw_message(
    cli: Cli, cloud: IdentityServer, gmail: GmailServer
) -> None:
    _desk(cli, cloud, gmail)
    ok(cli, "send", "--from", ANN, "--to", "bob@example.org", "--subject", "Quote")
    assert ok(cli, "outbox", "flush", "--once")["sent"] == 1
    ((user, raw),) = gmail.sent
    assert (user, message_from_bytes(raw)["Subject"]) == (ANN, "Quote")
    assert len(gmail.with_label(ANN, "SENT")) == 1


def test_mailbox_test_reads_the_gmail_profile(
    cli: Cli, cloud: IdentityServer, gmail: GmailServer
) -> None:
    _desk(cli, cloud, gmail)
    result = cli("mailbox", "test", ANN, "--json")
    assert result.code == 0 and f"{ANN}: 0 messages" in result.stdout


def test_move_after_import_labels_the_message_and_takes_it_out_of_the_inbox(
    cli: Cli, cloud: IdentityServer, gmail: GmailServer
) -> None:
    _desk(cli, cloud, gmail, "--after-import", "move:Processed")
    gmail.deliver(ANN, _mails(2))
    assert ok(cli, "fetch", "--once")[0]["opened"] == 2
    label = gmail.label_named(ANN, "Processed")  # made on first use: modify takes label ids
    assert label is not None
    assert (len(gmail.with_label(ANN, "INBOX")), len(gmail.with_label(ANN, label))) == (0, 2)
