"""Gaps against a real Dovecot and the Graph test server: mail on the server that postroom
never stored is listed, told apart from mail the next fetch takes anyway and from mail older
than the window, and a backfill takes it exactly once through the normal pipeline."""

from __future__ import annotations

import imaplib
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from postroom.services import gaps
from postroom.storage.db import default_engine, unit_of_work
from postroom.storage.models import MailboxGap, Message
from tests.conftest import Cli
from tests.integration.mailhelpers import add_desk, cli_json
from tests.integration.oauthhelpers import ok
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer

LONG_AGO = "2000-01-01"


def check(cli: Cli, address: str, *args: str) -> tuple[int, dict[str, Any]]:
    code, report = cli_json(cli, "mailbox", "check", address, *args)
    assert isinstance(report, dict), report
    return code, report


def backfill(cli: Cli, address: str, since: str) -> dict[str, Any]:
    code, done = cli_json(cli, "mailbox", "backfill", address, "--since", since)
    assert code == 0, done
    assert isinstance(done, dict)
    return done


def subjects(cli: Cli) -> list[str]:
    return sorted(r["subject"] for r in cli_json(cli, "request", "list", "--limit", "0")[1])


def test_a_stored_email_lost_from_the_database_is_missing_and_backfilled_once(
    cli: Cli, dovecot: Dovecot
) -> None:
    """after-import keep: the mail stays on the server; a restore of an older database (one
    row gone) leaves an email that no fetch will ever take again (its UID is behind the cursor)."""
    user = add_desk(cli, dovecot, "imap", dovecot.imap_port, "--after-import", "keep")
    dovecot.deliver(
        user, [email_from(f"u{i}@example.org", subject=f"Ticket {i}") for i in range(3)]
    )
    assert cli("fetch", "--once").code == 0
    with unit_of_work() as db:
        lost = db.scalar(select(Message).where(Message.subject == "Ticket 1"))
        assert lost is not None
        lost_key = lost.remote_key
        db.execute(delete(Message).where(Message.id == lost.id))

    code, report = check(cli, user)
    assert code == 1
    assert (report["on_server"], report["stored"], report["missing"]) == (3, 2, 1)
    assert report["missing_keys"] == [lost_key]
    assert report["server_count"] == {"messages": 3, "uidnext": 4}
    assert cli("fetch", "--once").code == 0  # the regular fetch does not take it
    assert check(cli, user)[1]["missing"] == 1

    done = backfill(cli, user, LONG_AGO)
    assert (done["missing"], done["taken"], done["opened"]) == (1, 1, 1)
    assert check(cli, user)[0] == 0
    assert backfill(cli, user, LONG_AGO)["taken"] == 0  # nothing twice
    with unit_of_work() as db:
        assert len(list(db.scalars(select(Message.id)))) == 3


def test_mail_read_by_a_person_before_postroom_fetched_it_is_a_gap_new_mail_is_not(
    cli: Cli, dovecot: Dovecot
) -> None:
    """after-import mark-read fetches unread mail only: an email someone opened in their mail
    client first would never become a request."""
    user = add_desk(cli, dovecot, "imap", dovecot.imap_port)
    dovecot.deliver(user, [email_from("ann@example.org", subject="Read too early")])
    client = imaplib.IMAP4(dovecot.host, dovecot.imap_port)
    client.login(user, dovecot.users[user])
    client.select("INBOX")
    client.store("1", "+FLAGS", "\\Seen")
    client.logout()
    dovecot.deliver(user, [email_from("bob@example.org", subject="Not fetched yet")])

    code, report = check(cli, user)
    assert code == 1
    assert (report["missing"], report["waiting"]) == (1, 1)  # the unread one: next fetch
    assert report["unacknowledged"] == 0
    assert cli("fetch", "--once").code == 0
    assert subjects(cli) == ["Not fetched yet"]

    assert backfill(cli, user, LONG_AGO)["opened"] == 1
    assert subjects(cli) == ["Not fetched yet", "Read too early"]
    assert check(cli, user)[0] == 0
    # stored, but the server was never told (a crash between the commit and the flag)
    client = imaplib.IMAP4(dovecot.host, dovecot.imap_port)
    client.login(user, dovecot.users[user])
    client.select("INBOX")
    client.store("2", "-FLAGS", "\\Seen")
    client.logout()
    code, report = check(cli, user)
    assert (code, report["unacknowledged"], report["missing"]) == (0, 1, 0)


def test_mail_older_than_the_mailbox_counts_only_when_asked_for(cli: Cli, dovecot: Dovecot) -> None:
    """Mail already read before the mailbox was added is not a gap; with --since it is."""
    user = add_desk(cli, dovecot, "imap", dovecot.imap_port)
    dovecot.deliver(user, [email_from("old@example.org", subject="From last month")])
    month_ago = time.time() - 30 * 86400
    for path in Path(dovecot.maildir(user)).glob("new/*"):
        os.utime(path, (month_ago, month_ago))  # Maildir: the file's time is the INTERNALDATE
    client = imaplib.IMAP4(dovecot.host, dovecot.imap_port)
    client.login(user, dovecot.users[user])
    client.select("INBOX")
    client.store("1", "+FLAGS", "\\Seen")
    client.logout()

    code, report = check(cli, user)
    assert (code, report["missing"], report["older"]) == (0, 0, 1)
    since = (datetime.now(UTC) - timedelta(days=60)).date().isoformat()
    code, report = check(cli, user, "--since", since)
    assert (code, report["missing"]) == (1, 1)
    too_late = (datetime.now(UTC) - timedelta(days=10)).date().isoformat()
    assert backfill(cli, user, too_late)["taken"] == 0
    assert backfill(cli, user, since)["taken"] == 1
    assert subjects(cli) == ["From last month"]


def test_the_daily_check_keeps_what_it_found_for_the_doctor_and_the_metrics(
    cli: Cli, dovecot: Dovecot
) -> None:
    user = add_desk(cli, dovecot, "imap", dovecot.imap_port, "--after-import", "keep")
    dovecot.deliver(user, [email_from("ann@example.org", subject="Lost in a restore")])
    assert cli("fetch", "--once").code == 0
    with unit_of_work() as db:
        db.execute(delete(Message))
    assert gaps.check_all(default_engine()) == 1
    with unit_of_work() as db:
        row = db.scalar(select(MailboxGap))
        assert row is not None and (row.missing, row.on_server, row.error) == (1, 1, None)
    code, report = cli_json(cli, "doctor", "--no-probe")
    assert code == 1
    assert [f["check"] for f in report["findings"]] == ["gap"]
    assert f"backfill {user}" in report["findings"][0]["fix"]


def test_graph_mail_lost_from_the_database_is_found_by_the_folder_listing_and_backfilled(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    from tests.integration.test_graph import DESK, _desk, _mails

    _desk(cli, cloud, graph)
    graph.deliver(DESK, _mails(3))
    assert ok(cli, "fetch", "--once")[0]["opened"] == 3
    with unit_of_work() as db:
        db.execute(delete(Message).where(Message.subject == "Ticket 2"))
    # Graph's listing carries no arrival time: the Date header (September 2026 in these
    # test emails, before the mailbox was added) dates them, so only --since reaches back.
    assert check(cli, DESK)[1]["older"] == 1
    code, report = check(cli, DESK, "--since", LONG_AGO)
    assert (code, report["missing"], report["stored"]) == (1, 1, 2)
    assert report["server_count"] == {"messages": 3, "unread": 0}
    assert backfill(cli, DESK, LONG_AGO)["taken"] == 1
    assert check(cli, DESK, "--since", LONG_AGO)[1]["missing"] == 0
    assert len(ok(cli, "request", "list", "--limit", "0")) == 4  # the restored row opened anew
