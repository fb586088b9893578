"""Inbound mail against a real Dovecot: every email becomes a request or is held with its
reason; nothing is lost, nothing is imported twice."""

from __future__ import annotations

import imaplib
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from postroom.config import get_settings
from tests.conftest import Cli
from tests.integration.mailhelpers import add_desk, cli_json
from tests.mailfactory import email_from, reply_to
from tests.servers.dovecot import Dovecot


@dataclass
class Desk:
    """A system mailbox on Dovecot, tied to the workflow New -> Triage -> Done."""

    cli: Cli
    dovecot: Dovecot
    user: str
    address: str

    def deliver(self, *messages: bytes, folder: str = "INBOX") -> None:
        self.dovecot.deliver(self.user, messages, folder)

    def fetch(self, expect_ok: bool = True) -> list[dict[str, Any]]:
        code, runs = cli_json(self.cli, "fetch", "--once")
        assert (code == 0) is expect_ok, runs
        assert isinstance(runs, list)
        return runs

    def requests(self) -> list[tuple[str, str, str, int]]:
        _, rows = cli_json(self.cli, "request", "list", "--limit", "0")
        return sorted((r["subject"], r["step"], r["requester"], r["messages"]) for r in rows)

    def held(self) -> list[tuple[str, str]]:
        _, rows = cli_json(self.cli, "held", "list", "--limit", "0")
        return sorted((r["subject"], r["reason"]) for r in rows)

    def imap(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.dovecot.host, self.dovecot.imap_port)
        client.login(self.user, self.dovecot.users[self.user])
        client.select("INBOX")
        return client

    def unseen(self) -> int:
        client = self.imap()
        _, data = client.search(None, "UNSEEN")
        client.logout()
        return len(data[0].split())


def _desk(cli: Cli, dovecot: Dovecot, protocol: str, *extra: str) -> Desk:
    port = dovecot.imap_port if protocol == "imap" else dovecot.pop3_port
    user = add_desk(cli, dovecot, protocol, port, *extra)
    return Desk(cli, dovecot, user, user)


@pytest.fixture
def imap_desk(cli: Cli, dovecot: Dovecot) -> Desk:
    return _desk(cli, dovecot, "imap")


@pytest.fixture
def pop3_desk(cli: Cli, dovecot: Dovecot) -> Desk:
    return _desk(cli, dovecot, "pop3")


def test_each_new_email_opens_a_request_moved_to_the_next_step(imap_desk: Desk) -> None:
    imap_desk.deliver(
        email_from("ann@example.org", "Printer on fire"), email_from("bob@example.org", "VPN down")
    )
    runs = imap_desk.fetch()
    assert (runs[0]["fetched"], runs[0]["opened"]) == (2, 2)
    assert imap_desk.requests() == [
        ("Printer on fire", "Triage", "ann@example.org", 1),
        ("VPN down", "Triage", "bob@example.org", 1),
    ]
    assert imap_desk.unseen() == 0  # IMAP marks read after import by default


def test_fetching_again_imports_nothing_twice(imap_desk: Desk) -> None:
    imap_desk.deliver(email_from("ann@example.org", "Printer on fire"))
    imap_desk.fetch()
    runs = imap_desk.fetch()
    assert runs[0]["fetched"] == 0
    assert len(imap_desk.requests()) == 1


def test_a_reply_updates_its_request_instead_of_opening_one(imap_desk: Desk) -> None:
    first = email_from("ann@example.org", "Printer on fire")
    imap_desk.deliver(first)
    imap_desk.fetch()
    imap_desk.deliver(reply_to(first, "ann@example.org", "It is out now."))
    imap_desk.fetch()
    assert imap_desk.requests() == [("Printer on fire", "Triage", "ann@example.org", 2)]


def test_a_reply_in_the_same_batch_joins_the_request_opened_earlier_in_it(imap_desk: Desk) -> None:
    first = email_from("ann@example.org", "Printer on fire")
    imap_desk.deliver(first, reply_to(first, "ann@example.org"))
    imap_desk.fetch()
    assert imap_desk.requests() == [("Printer on fire", "Triage", "ann@example.org", 2)]


def test_a_subject_token_finds_its_request(imap_desk: Desk) -> None:
    imap_desk.deliver(email_from("ann@example.org", "Printer on fire"))
    imap_desk.fetch()
    _, rows = cli_json(imap_desk.cli, "request", "list")
    number = rows[0]["id"]
    imap_desk.deliver(email_from("ann@example.org", f"Re: [#{number}] any news?"))
    imap_desk.fetch()
    assert imap_desk.requests() == [("Printer on fire", "Triage", "ann@example.org", 2)]


def _rules(desk: Desk, subject: str) -> list[dict[str, str]]:
    _, rows = cli_json(desk.cli, "request", "list")
    [number] = [r["id"] for r in rows if r["subject"] == subject]
    _, shown = cli_json(desk.cli, "request", "show", str(number))
    return list(shown["thread"][0]["rules"])


def test_a_stranger_naming_a_request_opens_a_new_one_and_the_trail_says_why(
    imap_desk: Desk,
) -> None:
    first = email_from("ann@example.org", "Salary review")
    imap_desk.deliver(first)
    imap_desk.fetch()
    _, rows = cli_json(imap_desk.cli, "request", "list")
    number = rows[0]["id"]
    imap_desk.deliver(
        reply_to(first, "mallory@evil.example", "Send it to me."),
        email_from("eve@evil.example", f"Re: [#{number}] the numbers please"),
    )
    imap_desk.fetch()
    assert sorted(imap_desk.requests()) == [
        ("Re: Salary review", "Triage", "mallory@evil.example", 1),
        (f"Re: [#{number}] the numbers please", "Triage", "eve@evil.example", 1),
        ("Salary review", "Triage", "ann@example.org", 1),
    ]
    for subject in ("Re: Salary review", f"Re: [#{number}] the numbers please"):
        [why] = [r for r in _rules(imap_desk, subject) if r["rule"] == "thread"]
        assert f"took no part in request #{number}" in why["reason"]


def test_a_colleague_of_the_same_domain_joins_only_where_the_workflow_allows_it(
    imap_desk: Desk,
) -> None:
    first = email_from("ann@example.org", "Printer on fire")
    imap_desk.deliver(first)
    imap_desk.fetch()
    imap_desk.deliver(reply_to(first, "carl@example.org", "Still burning."))
    imap_desk.fetch()
    assert len(imap_desk.requests()) == 2
    code, changed = cli_json(imap_desk.cli, "workflow", "threading", "Support", "--same-domain")
    assert code == 0 and changed["thread_same_domain"] is True
    imap_desk.deliver(reply_to(first, "dora@example.org", "Fire brigade called."))
    imap_desk.deliver(reply_to(first, "mallory@evil.example", "Me too."))
    imap_desk.fetch()
    assert sorted(imap_desk.requests()) == [
        ("Printer on fire", "Triage", "ann@example.org", 2),
        ("Re: Printer on fire", "Triage", "carl@example.org", 1),
        ("Re: Printer on fire", "Triage", "mallory@evil.example", 1),
    ]


def test_pop3_mail_is_deleted_from_the_server_once_stored(pop3_desk: Desk) -> None:
    pop3_desk.deliver(
        email_from("ann@example.org", "Printer on fire"), email_from("bob@example.org", "VPN down")
    )
    pop3_desk.fetch()
    assert len(pop3_desk.requests()) == 2
    assert pop3_desk.dovecot.count(pop3_desk.user) == 0
    assert pop3_desk.fetch()[0]["fetched"] == 0


def test_an_inactive_workflow_holds_mail_and_reprocessing_opens_the_request_once(
    imap_desk: Desk,
) -> None:
    assert imap_desk.cli("workflow", "deactivate", "Support").code == 0
    imap_desk.deliver(email_from("ann@example.org", "Printer on fire"))
    imap_desk.fetch()
    assert imap_desk.requests() == []
    assert imap_desk.held() == [("Printer on fire", "workflow-inactive")]
    _, box = cli_json(imap_desk.cli, "mailbox", "show", imap_desk.address)
    assert (box["workflow"], box["workflow_status"]) == ("Support", "inactive")

    _, rows = cli_json(imap_desk.cli, "held", "list")
    held_id = str(rows[0]["id"])
    code, still = cli_json(imap_desk.cli, "held", "reprocess", held_id)
    assert code == 0 and still["status"] == "held"
    assert imap_desk.cli("workflow", "activate", "Support").code == 0
    code, done = cli_json(imap_desk.cli, "held", "reprocess", held_id)
    assert code == 0 and done["status"] == "routed"
    again = imap_desk.cli("held", "reprocess", held_id)
    assert again.code == 1 and "already in request" in again.stderr
    assert imap_desk.requests() == [("Printer on fire", "Triage", "ann@example.org", 1)]
    assert imap_desk.held() == []


def test_auto_replies_and_bounces_never_open_requests(imap_desk: Desk) -> None:
    first = email_from("ann@example.org", "Printer on fire")
    imap_desk.deliver(first)
    imap_desk.fetch()
    imap_desk.deliver(
        reply_to(first, "ann@example.org", "I am away", headers={"Auto-Submitted": "auto-replied"}),
        email_from("zed@example.org", "Out of office", headers={"Auto-Submitted": "auto-replied"}),
        email_from("MAILER-DAEMON@example.org", "Undelivered Mail Returned to Sender"),
    )
    imap_desk.fetch()
    assert imap_desk.requests() == [("Printer on fire", "Triage", "ann@example.org", 2)]
    assert imap_desk.held() == [
        ("Out of office", "auto-reply"),
        ("Undelivered Mail Returned to Sender", "bounce"),
    ]


def _uidvalidity(desk: Desk, folder: str) -> int:
    client = desk.imap()
    _, data = client.status(folder, "(UIDVALIDITY)")
    client.logout()
    return int(data[0].split(b"UIDVALIDITY")[1].strip(b" ()"))


def test_a_uidvalidity_change_resyncs_without_duplicates(cli: Cli, dovecot: Dovecot) -> None:
    desk = _desk(cli, dovecot, "imap", "--after-import", "keep", "--folder", "Desk")
    first = [email_from("ann@example.org", "One"), email_from("bob@example.org", "Two")]
    desk.deliver(*first, folder="Desk")
    desk.fetch()
    before = _uidvalidity(desk, "Desk")
    client = desk.imap()  # the folder is deleted and made again, as an admin might
    assert client.delete("Desk")[0] == "OK"
    assert client.create("Desk")[0] == "OK"
    client.logout()
    desk.deliver(*first, email_from("carl@example.org", "Three"), folder="Desk")
    assert _uidvalidity(desk, "Desk") != before
    runs = desk.fetch()
    assert (runs[0]["fetched"], runs[0]["duplicates"], runs[0]["opened"]) == (3, 2, 1)
    assert [r[0] for r in desk.requests()] == ["One", "Three", "Two"]
    assert desk.fetch()[0]["fetched"] == 0


def test_one_failing_mailbox_never_stops_another(imap_desk: Desk) -> None:
    cli = imap_desk.cli
    assert (
        cli(
            "mailbox",
            "add",
            "broken@example.test",
            "--incoming",
            "in",
            "--workflow",
            "Support",
            "--password-stdin",
            input="wrong\n",
        ).code
        == 0
    )
    imap_desk.deliver(email_from("ann@example.org", "Printer on fire"))
    runs = imap_desk.fetch(expect_ok=False)
    assert {r["mailbox"]: r["ok"] for r in runs} == {
        imap_desk.address: True,
        "broken@example.test": False,
    }
    assert len(imap_desk.requests()) == 1
    _, box = cli_json(cli, "mailbox", "show", "broken@example.test")
    assert box["state"] == "auth-failed" and "refused the login" in box["last_error"]


def test_every_corpus_email_is_kept_as_a_request_or_held(imap_desk: Desk) -> None:
    corpus = sorted(Path(__file__).parents[1].joinpath("data").glob("*.eml"))
    assert len(corpus) >= 10
    imap_desk.deliver(*(p.read_bytes() for p in corpus))
    runs = imap_desk.fetch()
    run = runs[0]
    assert run["fetched"] == len(corpus)
    assert run["opened"] + run["threaded"] + run["held"] + run["duplicates"] == len(corpus)
    kept = sum(r[3] for r in imap_desk.requests()) + len(imap_desk.held())
    assert kept == len(corpus) - run["duplicates"]
    assert run["duplicates"] == 0  # no two corpus files are byte-identical


def test_move_after_import_files_mail_into_the_folder(cli: Cli, dovecot: Dovecot) -> None:
    desk = _desk(cli, dovecot, "imap", "--after-import", "move:Processed")
    desk.deliver(email_from("ann@example.org", "Printer on fire"))
    desk.fetch()
    assert desk.dovecot.count(desk.user) == 0
    assert desk.dovecot.count(desk.user, "Processed") == 1
    assert len(desk.requests()) == 1


def test_delete_after_import_expunges_the_mail(cli: Cli, dovecot: Dovecot) -> None:
    desk = _desk(cli, dovecot, "imap", "--after-import", "delete")
    desk.deliver(email_from("ann@example.org", "Printer on fire"))
    desk.fetch()
    assert desk.dovecot.count(desk.user) == 0
    assert len(desk.requests()) == 1


def test_oversize_mail_is_held_not_dropped(
    imap_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTROOM_MAX_MESSAGE_SIZE", "10000")
    get_settings.cache_clear()
    imap_desk.deliver(
        email_from("ann@example.org", "Huge logs", "z" * 20_000),
        email_from("bob@example.org", "Small"),
    )
    imap_desk.fetch()
    assert imap_desk.held() == [("Huge logs", "oversize")]
    assert [r[0] for r in imap_desk.requests()] == ["Small"]


def test_a_sender_over_the_rate_cap_is_held(
    imap_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTROOM_SENDER_RATE_LIMIT", "3")
    get_settings.cache_clear()
    imap_desk.deliver(*(email_from("loop@example.org", f"Ping {i}") for i in range(5)))
    imap_desk.fetch()
    assert len(imap_desk.requests()) == 3
    assert imap_desk.held() == [("Ping 3", "sender-rate"), ("Ping 4", "sender-rate")]


def test_our_own_mail_coming_back_opens_nothing(imap_desk: Desk) -> None:
    imap_desk.deliver(
        email_from(
            imap_desk.address,
            "Your request was received",
            headers={"Auto-Submitted": "auto-replied"},
        )
    )
    imap_desk.fetch()
    assert imap_desk.requests() == []
    _, rows = cli_json(imap_desk.cli, "held", "list")
    assert [hit["rule"] for hit in rows[0]["rules"]] == ["auto-reply", "own-mail", "route"]


def test_a_rule_trail_explains_why_a_message_was_held(imap_desk: Desk) -> None:
    imap_desk.deliver(
        email_from("zed@example.org", "Away", headers={"Auto-Submitted": "auto-replied"})
    )
    imap_desk.fetch()
    _, rows = cli_json(imap_desk.cli, "held", "list", "--reason", "auto-reply")
    rules = [hit["rule"] for hit in rows[0]["rules"]]
    assert rules == ["auto-reply", "route"]
    assert "Auto-Submitted: auto-replied" in rows[0]["rules"][0]["reason"]


def _with_attachment(megabytes: int) -> bytes:
    message = EmailMessage()
    message["From"] = "ann@example.org"
    message["To"] = "desk@example.test"
    message["Subject"] = "Crash dump"
    message["Message-ID"] = f"<dump-{uuid.uuid4().hex}@example.org>"
    message.set_content("The dump is attached.")
    message.add_attachment(
        b"\0" * megabytes * 1024 * 1024,
        maintype="application",
        subtype="octet-stream",
        filename="dump.bin",
    )
    return message.as_bytes()


def test_a_30_mb_email_is_held_as_oversize_with_its_size_and_kept_whole(imap_desk: Desk) -> None:
    raw = _with_attachment(30)
    imap_desk.deliver(raw)
    imap_desk.fetch()
    assert imap_desk.held() == [("Crash dump", "oversize")]
    _, rows = cli_json(imap_desk.cli, "held", "list")
    assert rows[0]["size"] == len(raw.replace(b"\n", b"\r\n"))  # IMAP serves CRLF lines
    assert "MiB" in rows[0]["rules"][0]["reason"]


def test_a_30_mb_email_under_a_larger_limit_opens_a_request(
    imap_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTROOM_MAX_MESSAGE_SIZE", str(64 * 1024 * 1024))
    get_settings.cache_clear()
    imap_desk.deliver(_with_attachment(30))
    imap_desk.fetch()
    assert imap_desk.requests() == [("Crash dump", "Triage", "ann@example.org", 1)]


def test_a_header_over_100_kb_still_opens_a_request(imap_desk: Desk) -> None:
    imap_desk.deliver(
        email_from("ann@example.org", "Long header", headers={"X-Trace": "a" * 120_000})
    )
    imap_desk.fetch()
    assert imap_desk.requests() == [("Long header", "Triage", "ann@example.org", 1)]


def test_a_fetch_reads_the_own_addresses_once_not_once_a_batch(
    imap_desk: Desk, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTROOM_FETCH_BATCH_SIZE", "2")
    get_settings.cache_clear()
    imap_desk.deliver(*(email_from(f"user{i}@example.org", f"Question {i}") for i in range(5)))
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        runs = imap_desk.fetch()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert runs[0]["fetched"] == 5
    batches = [s for s in statements if s.startswith("UPDATE fetch_cursors SET")]
    assert len(batches) == 3  # 2 + 2 + 1, each moving the cursor on after its commit
    assert statements.count("SELECT mailboxes.address FROM mailboxes") == 1
