"""Contacts and activities removed in postroom (CLI, API, console: one service) are deleted on
the account by the next sync, with the etag they were based on: against Radicale here, and
against the Graph and Google test servers in test_sync_cloud_roundtrip.py. A record the account
changed meanwhile comes back with the account's version, the removal kept in its history; a
pass that dies after the account's delete repeats without doubling or losing anything."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from postroom.services import sync_runs
from postroom.storage.db import unit_of_work
from postroom.storage.models import Contact
from tests.conftest import Cli
from tests.integration.mailhelpers import cli_json
from tests.integration.test_sync_dav import (
    VCARD,
    Crash,
    _card,
    _contacts,
    _mailbox,
    _mailbox_id,
    _request,
    _server_emails,
    _sync,
    radicale,
)
from tests.servers.radicale import Radicale

__all__ = ["radicale"]
DELETE_LOST = "deleted here while changed on the account: the account's version was kept"


def _rows(engine: Engine) -> int:
    with unit_of_work(engine) as db:
        return db.scalar(select(func.count()).select_from(Contact)) or 0


def test_a_contact_and_an_activity_removed_here_are_deleted_on_the_account(
    cli: Cli, radicale: Radicale, engine: Engine
) -> None:
    ann = _mailbox(cli, radicale, "ann")
    radicale.put("ann", "/ann/contacts/jo.vcf", _card("jo", "jo@x.example", "Jo"), VCARD)
    radicale.put("ann", "/ann/contacts/kim.vcf", _card("kim", "kim@x.example", "Kim"), VCARD)
    code, activity = cli_json(
        cli, "activity", "add", "--mailbox", ann, "--request", str(_request(engine, "c@x.example")),
        "--title", "Call back", "--start", "2026-12-03T09:00Z", "--end", "2026-12-03T09:30Z",
    )  # fmt: skip
    assert code == 0, activity
    assert _sync(cli)[0] == 0
    assert len(radicale.hrefs(radicale.calendar("ann"), "ann")) == 1
    jo = next(c for c in cli_json(cli, "contact", "list", "--mailbox", ann)[1] if c["name"] == "Jo")

    assert cli("contact", "remove", str(jo["id"])).code == 0
    assert cli("activity", "remove", str(activity["id"])).code == 0
    assert [c[0] for c in _contacts(cli, ann)] == ["kim@x.example"]  # hidden at once
    assert cli_json(cli, "activity", "list", "--mailbox", ann)[1] == []
    assert _server_emails(radicale, "ann") == ["jo@x.example", "kim@x.example"]  # not yet

    code, runs = _sync(cli)

    assert code == 0, runs
    assert [(r["kind"], r["deleted"], r["conflicts"]) for r in runs] == [
        ("contacts", 1, 0),
        ("calendar", 1, 0),
    ]
    assert _server_emails(radicale, "ann") == ["kim@x.example"]
    assert radicale.hrefs(radicale.calendar("ann"), "ann") == {}
    assert _rows(engine) == 1
    assert cli("contact", "show", str(jo["id"])).code != 0
    assert _sync(cli)[1][0]["deleted"] == 0  # nothing comes back, nothing is deleted twice


def test_a_contact_removed_here_but_changed_on_the_account_keeps_the_accounts_version(
    cli: Cli, radicale: Radicale
) -> None:
    ann = _mailbox(cli, radicale, "ann")
    radicale.put("ann", "/ann/contacts/jo.vcf", _card("jo", "jo@x.example", "Jo"), VCARD)
    assert _sync(cli)[0] == 0
    ((jo),) = cli_json(cli, "contact", "list", "--mailbox", ann)[1]
    assert cli("contact", "remove", str(jo["id"])).code == 0
    radicale.put("ann", "/ann/contacts/jo.vcf", _card("jo", "jo@x.example", "Jo", "New Co"), VCARD)

    code, runs = _sync(cli)

    assert code == 0 and runs[0]["conflicts"] == 1 and runs[0]["deleted"] == 0
    assert _server_emails(radicale, "ann") == ["jo@x.example"]
    code, shown = cli_json(cli, "contact", "show", str(jo["id"]))
    assert (shown["company"], shown["pending"]) == ("New Co", False)
    assert [(h["data"]["company"], h["reason"]) for h in shown["history"]] == [("", DELETE_LOST)]


def test_a_delete_pushed_against_a_newer_version_is_refused_by_its_etag(
    cli: Cli, radicale: Radicale, engine: Engine
) -> None:
    """The account changes the contact after the pull and before the delete: If-Match fails
    (412), the account's version is kept."""
    ann = _mailbox(cli, radicale, "ann")
    radicale.put("ann", "/ann/contacts/jo.vcf", _card("jo", "jo@x.example", "Jo"), VCARD)
    assert _sync(cli)[0] == 0
    ((jo),) = cli_json(cli, "contact", "list", "--mailbox", ann)[1]
    assert cli("contact", "remove", str(jo["id"])).code == 0
    calls: list[int] = []

    def change_between_pull_and_push(db: Session) -> None:
        calls.append(1)
        if len(calls) == 1:  # the pull's page: the account changes right after it
            radicale.put(
                "ann", "/ann/contacts/jo.vcf", _card("jo", "jo@x.example", "Jo", "Late Co"), VCARD
            )

    run = sync_runs.sync_mailbox(
        engine, _mailbox_id(engine, ann), "contacts", fence=change_between_pull_and_push
    )

    assert run.ok and (run.conflicts, run.deleted) == (1, 0)
    assert _server_emails(radicale, "ann") == ["jo@x.example"]
    _, shown = cli_json(cli, "contact", "show", str(jo["id"]))
    assert shown["company"] == "Late Co"
    assert [h["reason"] for h in shown["history"]] == [DELETE_LOST]


def test_a_pass_that_dies_after_the_accounts_delete_finishes_it_next_time(
    cli: Cli, radicale: Radicale, engine: Engine
) -> None:
    ann = _mailbox(cli, radicale, "ann")
    for who in ("jo", "kim"):
        radicale.put("ann", f"/ann/contacts/{who}.vcf", _card(who, f"{who}@x.example", who), VCARD)
    assert _sync(cli)[0] == 0
    jo = next(c for c in cli_json(cli, "contact", "list", "--mailbox", ann)[1] if c["name"] == "jo")
    assert cli("contact", "remove", str(jo["id"])).code == 0
    calls: list[int] = []

    def die_at_the_delete_commit(db: Session) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise Crash

    with pytest.raises(Crash):
        sync_runs.sync_mailbox(
            engine, _mailbox_id(engine, ann), "contacts", fence=die_at_the_delete_commit
        )
    assert _server_emails(radicale, "ann") == ["kim@x.example"]
    assert _rows(engine) == 2  # the row waits, still marked

    code, runs = _sync(cli)

    assert code == 0 and (runs[0]["conflicts"], runs[0]["pushed"]) == (0, 0)
    assert _server_emails(radicale, "ann") == ["kim@x.example"]
    assert [c[0] for c in _contacts(cli, ann)] == ["kim@x.example"]
    assert _rows(engine) == 1
