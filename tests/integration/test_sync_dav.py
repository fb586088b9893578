"""Contacts and activities synced both ways with a real CardDAV/CalDAV server (Radicale):
created here → on the account, changed there → back here, a conflict kept in history, a
dropped sync token resynced without duplicates, a pass that dies after its page commit, and
a failing account that touches only itself."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from postroom.services import sync_runs
from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox, Request, SyncState, Workflow, aware, utcnow
from postroom.workers.ownership import Ownership
from postroom.workers.scheduler import Scheduler
from tests.conftest import Cli
from tests.integration.mailhelpers import add_server, cli_json
from tests.servers.radicale import Radicale, radicale_server

USERS = {"ann": "ann-pass-1", "bob": "bob-pass-1"}
VCARD = "text/vcard; charset=utf-8"


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[Radicale]:
    with radicale_server(tmp_path / "radicale", USERS) as server:
        yield server


def _mailbox(cli: Cli, radicale: Radicale, user: str, password: str | None = None) -> str:
    """An IMAP mailbox (its IMAP server is never reached here) whose account is Radicale's."""
    if cli("server", "show", "in").code != 0:
        add_server(cli, "in", "imap", 1, "none", "--login-format", "local-part")
    address = f"{user}@example.org"
    added = cli(
        "mailbox",
        "add",
        address,
        "--incoming",
        "in",
        "--password-stdin",
        input=(password or USERS[user]) + "\n",
    )
    assert added.code == 0, added.stderr
    code, data = cli_json(
        cli,
        "mailbox",
        "edit",
        address,
        "--sync",
        "contacts,calendar",
        "--dav-url",
        radicale.home(user),
    )
    assert code == 0, data
    assert data["sync"] == ["contacts", "calendar"] and data["dav_url"] == radicale.home(user)
    return address


def _sync(cli: Cli, *args: str) -> tuple[int, list[dict[str, Any]]]:
    code, runs = cli_json(cli, "sync", "--once", *args)
    return code, runs


def _contacts(cli: Cli, address: str) -> list[tuple[str, str, str, bool]]:
    code, rows = cli_json(cli, "contact", "list", "--mailbox", address)
    assert code == 0, rows
    return sorted((r["email"], r["name"], r["company"], r["pending"]) for r in rows)


def _card(uid: str, email: str, name: str, company: str = "") -> str:
    org = f"ORG:{company}\r\n" if company else ""
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:{name};;;;\r\n"
        f"EMAIL:{email}\r\n{org}END:VCARD\r\n"
    )


def _server_emails(radicale: Radicale, user: str) -> list[str]:
    emails = []
    for href in radicale.hrefs(radicale.addressbook(user), user):
        body = radicale.body(user, href)
        emails += [
            line.split(":", 1)[1].strip() for line in body.splitlines() if line.startswith("EMAIL")
        ]
    return sorted(emails)


def test_a_contact_added_here_reaches_the_account_and_a_change_there_comes_back(
    cli: Cli, radicale: Radicale
) -> None:
    ann = _mailbox(cli, radicale, "ann")
    code, added = cli_json(
        cli,
        "contact",
        "add",
        "--mailbox",
        ann,
        "--email",
        "carol@client.example",
        "--name",
        "Carol Client",
        "--company",
        "Client Ltd",
        "--phone",
        "+44 20 7946 0000",
    )
    assert code == 0 and added["pending"] is True
    code, runs = _sync(cli)
    assert code == 0, runs
    assert [(r["kind"], r["pushed"]) for r in runs] == [("contacts", 1), ("calendar", 0)]
    assert _server_emails(radicale, "ann") == ["carol@client.example"]
    assert _contacts(cli, ann) == [("carol@client.example", "Carol Client", "Client Ltd", False)]

    # Another client of the account renames her and adds someone; both come back.
    (href,) = radicale.hrefs(radicale.addressbook("ann"), "ann")
    body = radicale.body("ann", href).replace("Carol Client", "Carol Clyde")
    radicale.put("ann", href, body, VCARD)
    radicale.put(
        "ann",
        "/ann/contacts/dave.vcf",
        _card("dave", "dave@supplier.example", "Dave Supplier", "Supplier Co"),
        VCARD,
    )
    code, runs = _sync(cli, "--mailbox", ann)
    assert code == 0 and runs[0]["pulled"] == 2
    assert _contacts(cli, ann) == [
        ("carol@client.example", "Carol Clyde", "Client Ltd", False),
        ("dave@supplier.example", "Dave Supplier", "Supplier Co", False),
    ]

    # Deleted on the account: gone here too.
    radicale.delete("ann", "/ann/contacts/dave.vcf")
    assert _sync(cli)[0] == 0
    assert [c[0] for c in _contacts(cli, ann)] == ["carol@client.example"]


def _request(engine: Engine, requester: str) -> int:
    with unit_of_work(engine) as db:
        workflow = Workflow(name=f"Sales-{uuid.uuid4().hex[:6]}")
        db.add(workflow)
        db.flush()
        request = Request(workflow_id=workflow.id, subject="Ten chairs", requester=requester)
        db.add(request)
        db.flush()
        return request.id


def test_an_activity_from_a_request_goes_to_the_calendar_and_a_move_there_comes_back(
    cli: Cli, radicale: Radicale, engine: Engine
) -> None:
    ann = _mailbox(cli, radicale, "ann")
    request_id = _request(engine, "carol@client.example")
    code, added = cli_json(
        cli,
        "activity",
        "add",
        "--mailbox",
        ann,
        "--request",
        str(request_id),
        "--title",
        "Call Carol about the chairs",
        "--start",
        "2026-12-03T09:00+01:00",
        "--end",
        "2026-12-03T09:30+01:00",
    )
    assert code == 0, added
    assert added["attendees"] == ["carol@client.example"]
    assert added["link"].endswith(f"/requests/{request_id}")
    assert _sync(cli)[0] == 0

    (href,) = radicale.hrefs(radicale.calendar("ann"), "ann")
    event = radicale.body("ann", href)
    assert "SUMMARY:Call Carol about the chairs" in event
    assert "DTSTART:20261203T080000Z" in event
    assert "mailto:carol@client.example" in event
    assert f"/requests/{request_id}" in event.replace("\r\n ", "")

    moved = event.replace("DTSTART:20261203T080000Z", "DTSTART:20261204T080000Z").replace(
        "DTEND:20261203T083000Z", "DTEND:20261204T083000Z"
    )
    radicale.put("ann", href, moved, "text/calendar; charset=utf-8")
    assert _sync(cli)[0] == 0
    code, rows = cli_json(cli, "activity", "list", "--request", str(request_id))
    assert code == 0
    assert [(r["title"], r["start"], r["pending"]) for r in rows] == [
        ("Call Carol about the chairs", "2026-12-04T08:00:00+00:00", False)
    ]


def test_a_conflict_keeps_the_accounts_version_and_the_losing_edit_in_history(
    cli: Cli, radicale: Radicale
) -> None:
    _mailbox(cli, radicale, "ann")
    radicale.put(
        "ann", "/ann/contacts/erin.vcf", _card("erin", "erin@client.example", "Erin"), VCARD
    )
    assert _sync(cli)[0] == 0
    (contact,) = cli_json(cli, "contact", "list", "--json")[1]

    # Both sides change Erin before the next sync.
    radicale.put(
        "ann",
        "/ann/contacts/erin.vcf",
        _card("erin", "erin@client.example", "Erin Account", "Acct Co"),
        VCARD,
    )
    code, _ = cli_json(cli, "contact", "edit", str(contact["id"]), "--name", "Erin Postroom")
    assert code == 0
    code, runs = _sync(cli)
    assert code == 0 and runs[0]["conflicts"] == 1

    code, shown = cli_json(cli, "contact", "show", str(contact["id"]))
    assert (shown["name"], shown["company"], shown["pending"]) == ("Erin Account", "Acct Co", False)
    assert [(h["data"]["name"], h["reason"]) for h in shown["history"]] == [
        ("Erin Postroom", "changed on both sides: the account's version won")
    ]
    assert "FN:Erin Account" in radicale.body("ann", "/ann/contacts/erin.vcf")


def test_an_edit_pushed_against_a_newer_account_version_loses_to_it_with_history(
    cli: Cli, radicale: Radicale, engine: Engine
) -> None:
    """The If-Match path: the account changes between this pass's pull and its push."""
    ann = _mailbox(cli, radicale, "ann")
    radicale.put("ann", "/ann/contacts/fay.vcf", _card("fay", "fay@client.example", "Fay"), VCARD)
    assert _sync(cli)[0] == 0
    (contact,) = cli_json(cli, "contact", "list")[1]
    assert cli("contact", "edit", str(contact["id"]), "--name", "Fay Here").code == 0

    def change_on_the_account_first(db: Session) -> None:
        if not changed:
            changed.append(True)
            radicale.put(
                "ann",
                "/ann/contacts/fay.vcf",
                _card("fay", "fay@client.example", "Fay There"),
                VCARD,
            )

    changed: list[bool] = []
    mailbox_id = _mailbox_id(engine, ann)
    run = sync_runs.sync_mailbox(engine, mailbox_id, "contacts", fence=change_on_the_account_first)
    assert run.ok and run.conflicts == 1 and run.pushed == 0
    code, shown = cli_json(cli, "contact", "show", str(contact["id"]))
    assert code == 0 and shown["name"] == "Fay There"
    assert [h["data"]["name"] for h in shown["history"]] == ["Fay Here"]
    assert "FN:Fay There" in radicale.body("ann", "/ann/contacts/fay.vcf")


def _mailbox_id(engine: Engine, address: str) -> int:
    with unit_of_work(engine) as db:
        found = db.scalar(select(Mailbox.id).where(Mailbox.address == address))
        assert found is not None
        return found


def test_a_dropped_sync_token_resyncs_in_full_without_duplicates_and_drops_the_deleted(
    cli: Cli, radicale: Radicale, engine: Engine
) -> None:
    ann = _mailbox(cli, radicale, "ann")
    for name in ("gil", "hal", "ivy"):
        radicale.put(
            "ann", f"/ann/contacts/{name}.vcf", _card(name, f"{name}@x.example", name), VCARD
        )
    assert _sync(cli)[0] == 0
    radicale.delete("ann", "/ann/contacts/hal.vcf")
    with unit_of_work(engine) as db:  # the server no longer knows this token
        db.execute(
            update(SyncState)
            .where(SyncState.kind == "contacts")
            .values(cursor="sync:http://radicale.org/ns/sync/forgotten")
        )
    code, runs = _sync(cli)
    assert code == 0, runs
    assert runs[0]["deleted"] == 1
    assert [c[0] for c in _contacts(cli, ann)] == ["gil@x.example", "ivy@x.example"]


class Crash(BaseException):
    """The process dying at this instant: nothing after it runs, no handler catches it."""


def test_a_pass_that_dies_after_its_page_commit_repeats_without_duplicates(
    cli: Cli, radicale: Radicale, engine: Engine
) -> None:
    """Dies in the push, after the page was committed and after the account accepted the
    new contact but before postroom noted it: the next pass doubles nothing, either side."""
    ann = _mailbox(cli, radicale, "ann")
    radicale.put("ann", "/ann/contacts/jo.vcf", _card("jo", "jo@x.example", "Jo"), VCARD)
    assert (
        cli("contact", "add", "--mailbox", ann, "--email", "kim@x.example", "--name", "Kim").code
        == 0
    )
    calls: list[int] = []

    def die_at_the_second_commit(db: Session) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise Crash

    with pytest.raises(Crash):
        sync_runs.sync_mailbox(
            engine, _mailbox_id(engine, ann), "contacts", fence=die_at_the_second_commit
        )
    assert _server_emails(radicale, "ann") == ["jo@x.example", "kim@x.example"]
    assert _contacts(cli, ann) == [
        ("jo@x.example", "Jo", "", False),  # the page committed before the death
        ("kim@x.example", "Kim", "", True),
    ]
    code, runs = _sync(cli)
    assert code == 0, runs
    assert _server_emails(radicale, "ann") == ["jo@x.example", "kim@x.example"]
    assert _contacts(cli, ann) == [
        ("jo@x.example", "Jo", "", False),
        ("kim@x.example", "Kim", "", False),
    ]


def test_a_failing_account_records_its_error_and_touches_only_itself(
    cli: Cli, radicale: Radicale, engine: Engine
) -> None:
    ann = _mailbox(cli, radicale, "ann")
    bob = _mailbox(cli, radicale, "bob", password="not-bobs-password")
    radicale.put("ann", "/ann/contacts/lee.vcf", _card("lee", "lee@x.example", "Lee"), VCARD)
    code, runs = _sync(cli)
    assert code == 1
    outcome = {(r["address"], r["kind"]): (r["ok"], r["failure"]) for r in runs}
    assert outcome == {
        (ann, "contacts"): (True, None),
        (ann, "calendar"): (True, None),
        (bob, "contacts"): (False, "auth-failed"),
        (bob, "calendar"): (False, "auth-failed"),
    }
    assert [c[0] for c in _contacts(cli, ann)] == ["lee@x.example"]
    with unit_of_work(engine) as db:
        states = {
            (s.mailbox_id, s.kind): (s.failures, s.last_error is not None, s.last_success_at)
            for s in db.scalars(select(SyncState))
        }
    bob_id, ann_id = _mailbox_id(engine, bob), _mailbox_id(engine, ann)
    assert states[(bob_id, "contacts")][:2] == (1, True)
    assert states[(ann_id, "contacts")][0:2] == (0, False)
    assert states[(ann_id, "contacts")][2] is not None
    # Bob's backoff keeps him out of the due list for longer than the usual interval.
    with unit_of_work(engine) as db:
        db.execute(update(Mailbox).values(lease_owner="w1"))
    assert sync_runs.due(engine, "w1", lambda mailbox_id: True) == []


def test_sync_refuses_a_mailbox_without_the_switch_and_a_bad_dav_url(
    cli: Cli, radicale: Radicale
) -> None:
    ann = _mailbox(cli, radicale, "ann")
    assert cli("mailbox", "edit", ann, "--sync", "none").code == 0
    refused = cli("contact", "add", "--mailbox", ann, "--email", "x@x.example", "--name", "X")
    assert refused.code != 0 and "--sync contacts" in refused.stderr
    bad = cli("mailbox", "edit", ann, "--sync", "contacts,tasks")
    assert bad.code != 0 and "tasks" in bad.stderr
    bad = cli("mailbox", "edit", ann, "--dav-url", "ftp://example.org/dav")
    assert bad.code != 0 and "DAV URL" in bad.stderr
    code, runs = _sync(cli)
    assert code == 0 and runs == []


class SyncRuns:
    """The worker's finished sync passes, for waiting on a condition (never a sleep)."""

    def __init__(self) -> None:
        self.runs: list[sync_runs.SyncRun] = []
        self.changed = threading.Condition()

    def __call__(self, run: sync_runs.SyncRun) -> None:
        with self.changed:
            self.runs.append(run)
            self.changed.notify_all()

    def until(self, check: Callable[[list[sync_runs.SyncRun]], bool]) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: check(self.runs), timeout=30.0), self.runs


def test_the_worker_syncs_the_mailboxes_it_owns_fenced_by_their_lease(
    cli: Cli, radicale: Radicale, engine: Engine
) -> None:
    ann = _mailbox(cli, radicale, "ann")  # receives too: the worker holds its fetch lease
    radicale.put("ann", "/ann/contacts/max.vcf", _card("max", "max@x.example", "Max"), VCARD)
    runs = SyncRuns()
    scheduler = Scheduler(engine, idle=False, on_sync=runs)
    scheduler.start()
    try:
        runs.until(lambda done: {(r.kind, r.ok) for r in done} >= {("contacts", True)})
    finally:
        scheduler.stop()
    assert [c[0] for c in _contacts(cli, ann)] == ["max@x.example"]
    with unit_of_work(engine) as db:
        state = db.scalar(select(SyncState).where(SyncState.kind == "contacts"))
        assert state is not None and state.next_run_at is not None
        # Not due again until about five minutes later.
        assert aware(state.next_run_at) - utcnow() > sync_runs.INTERVAL * 0.8


def test_a_worker_that_lost_the_mailbox_commits_nothing_of_its_pass(
    cli: Cli, radicale: Radicale, engine: Engine
) -> None:
    ann = _mailbox(cli, radicale, "ann")
    radicale.put("ann", "/ann/contacts/ned.vcf", _card("ned", "ned@x.example", "Ned"), VCARD)
    mailbox_id = _mailbox_id(engine, ann)
    with unit_of_work(engine) as db:  # another worker took it over: the epoch moved on
        db.execute(update(Mailbox).values(lease_owner="w2", lease_epoch=7))
    paused = Ownership(engine, "w1", 30.0)
    fence = partial(paused.fence, mailbox_id=mailbox_id, epoch=6)
    run = sync_runs.sync_mailbox(engine, mailbox_id, "contacts", fence=fence)
    assert (run.ok, run.failure) == (False, "lease-lost")
    assert _contacts(cli, ann) == []
