"""Folders on servers that are not set up like Dovecot's default (issue 13.4), and an
after-import action the server refuses (issue 13.2): import goes on, the mailbox warns."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from imapclient import IMAPClient
from sqlalchemy import select, update

from postroom.storage import db as storage_db
from postroom.storage.models import Mailbox, PendingAction, utcnow
from tests.conftest import USERS, Cli
from tests.integration.mailhelpers import add_desk, add_mailbox, add_server, cli_json
from tests.mailfactory import email_from
from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot
from tests.servers.smtp import SmtpServer


@pytest.fixture(scope="module")
def prefixed(test_ca: TestCA) -> Iterator[Dovecot]:
    """Personal folders under `INBOX.` with `.` between levels (Cyrus, Courier)."""
    with Dovecot(users=USERS, ca=test_ca, namespace_prefix="INBOX.", separator=".") as server:
        yield server


def _folders(dovecot: Dovecot, user: str, password: str = "desk-pass-1") -> list[str]:
    client = IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False)
    client.login(user, password)
    names = sorted(str(f[2]) for f in client.list_folders())
    client.logout()
    return names


def _subjects(cli: Cli) -> list[str]:
    _, rows = cli_json(cli, "request", "list", "--limit", "0")
    return sorted(r["subject"] for r in rows)


def test_move_to_processed_uses_the_personal_namespace(cli: Cli, prefixed: Dovecot) -> None:
    user = add_desk(cli, prefixed, "imap", prefixed.imap_port, "--after-import", "move:Processed")
    prefixed.deliver(user, [email_from("ann@example.org", "One"), email_from("b@x.org", "Two")])
    code, runs = cli_json(cli, "fetch", "--once")
    assert code == 0 and runs[0]["opened"] == 2, runs
    assert "INBOX.Processed" in _folders(prefixed, user)
    assert prefixed.count(user) == 0 and prefixed.count(user, "Processed") == 2
    _, box = cli_json(cli, "mailbox", "show", user)
    assert box["state"] == "ok" and box["warning"] is None


@pytest.mark.usefixtures("trust_test_ca")
def test_the_sent_copy_uses_the_personal_namespace(
    cli: Cli, prefixed: Dovecot, smtp_server: SmtpServer
) -> None:
    add_server(cli, "in", "imap", prefixed.imap_port, "none")
    add_server(cli, "out", "smtp", smtp_server.port, "starttls")
    address = "desk@example.test"
    add_mailbox(
        cli,
        address,
        USERS[address],
        "--incoming",
        "in",
        "--outgoing",
        "out",
        "--sent-folder",
        "Sent Items",
    )
    _, item = cli_json(cli, "send", "--from", address, "--to", "ann@example.org", "--subject", "Hi")
    _, flushed = cli_json(cli, "outbox", "flush", "--once")
    assert flushed["sent"] == 1 and flushed["copied"] == 1, flushed
    assert "INBOX.Sent Items" in _folders(prefixed, address, USERS[address])
    _, shown = cli_json(cli, "outbox", "show", str(item["id"]))
    assert shown["sent_copy"] == "done"


def test_a_refused_after_import_move_is_retried_and_never_stops_import(
    cli: Cli, dovecot: Dovecot
) -> None:
    user = add_desk(cli, dovecot, "imap", dovecot.imap_port, "--after-import", "move:~Archive")
    dovecot.deliver(user, [email_from("ann@example.org", "One"), email_from("b@x.org", "Two")])
    code, runs = cli_json(cli, "fetch", "--once")
    assert code == 0 and runs[0]["opened"] == 2, runs
    _, box = cli_json(cli, "mailbox", "show", user)
    assert box["state"] == "ok"  # not unreachable: the server is fine, the folder is not
    assert "move to the folder '~Archive'" in box["warning"]
    assert "Invalid mailbox name" in box["warning"]
    dovecot.deliver(user, [email_from("cid@example.org", "Three")])
    code, runs = cli_json(cli, "fetch", "--once")
    assert code == 0 and runs[0]["opened"] == 1  # new mail goes on being imported
    assert _subjects(cli) == ["One", "Three", "Two"]
    with storage_db.unit_of_work() as db:
        waiting = list(db.scalars(select(PendingAction)))
        assert len(waiting) == 3 and all(w.message_id for w in waiting)
        assert max(w.attempts for w in waiting) == 1  # backing off: not tried on every poll
    with storage_db.unit_of_work() as db:  # a person picks a folder the server allows …
        db.execute(update(Mailbox).values(after_import="move:Archive"))
        # … and the backoff has passed
        db.execute(update(PendingAction).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    assert cli_json(cli, "fetch", "--once")[0] == 0
    assert dovecot.count(user) == 0 and dovecot.count(user, "Archive") == 3
    _, box = cli_json(cli, "mailbox", "show", user)
    assert box["warning"] is None
    with storage_db.unit_of_work() as db:
        assert list(db.scalars(select(PendingAction))) == []
