"""Held machine mail is forgotten after its retention; request mail and mail a person must act
on are kept. Ages are set in the database, so nothing waits for time to pass."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from postroom.domain.held import MACHINE_MAIL, NEEDS_A_PERSON
from postroom.errors import InvalidInput, PermissionDenied
from postroom.services import retention, users, workflows
from postroom.services.actors import OPERATOR
from postroom.storage.db import unit_of_work
from postroom.storage.models import AuditEntry, LoginFailure, Message, Request, utcnow
from postroom.workers.maintenance import Upkeep
from postroom.workers.scheduler import Scheduler
from tests.conftest import Cli

pytestmark = pytest.mark.usefixtures("database_url")


def held(engine: Engine, reason: str | None, days_old: float, **fields: object) -> int:
    """A stored message that arrived `days_old` days ago."""
    raw = f"Subject: {reason} {days_old}\r\nFrom: robot@example.org\r\n\r\nhi\r\n".encode()
    with unit_of_work(engine) as db:
        values: dict[str, object] = {"status": "held", "held_reason": reason} | fields
        message = Message(
            sha256=hashlib.sha256(raw + str(fields).encode()).hexdigest(),
            raw=raw,
            size=len(raw),
            sender="robot@example.org",
            subject=f"{reason} {days_old}",
            received_at=utcnow() - timedelta(days=days_old),
            **values,
        )
        db.add(message)
        db.flush()
        return message.id


def request_in(engine: Engine) -> int:
    with unit_of_work(engine) as db:
        workflow = workflows.add(db, OPERATOR, f"Support {utcnow().timestamp()}", "New,Triage")
        request = Request(workflow=workflow, subject="Printer on fire")
        db.add(request)
        db.flush()
        return request.id


def stored(engine: Engine) -> set[int]:
    with unit_of_work(engine) as db:
        return set(db.scalars(select(Message.id)))


def audit_of(engine: Engine, action: str) -> list[AuditEntry]:
    with unit_of_work(engine) as db:
        return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_the_purge_removes_only_held_machine_mail_past_its_retention(engine: Engine) -> None:
    old_reply = held(engine, "auto-reply", 31)
    old_bounce = held(engine, "bounce", 45)
    old_list = held(engine, "list-mail", 60)
    young_reply = held(engine, "auto-reply", 29)
    unroutable = held(engine, "no-workflow", 400)
    inactive = held(engine, "workflow-inactive", 400)

    purged = retention.purge(engine, OPERATOR)

    assert purged.counts == {"auto-reply": 1, "bounce": 1, "list-mail": 1}
    assert stored(engine) == {young_reply, unroutable, inactive}
    assert {old_reply, old_bounce, old_list}.isdisjoint(stored(engine))
    [entry] = audit_of(engine, "held.purged")
    assert entry.details == {"purged": purged.counts, "total": 3}
    assert entry.actor == "cli"


def test_mail_that_belongs_to_a_request_is_never_purged(engine: Engine) -> None:
    request_id = request_in(engine)
    threaded = held(engine, None, 900, status="routed", request_id=request_id)
    # A held row tied to a request (a person routed it as it was purged): the request wins.
    tied = held(engine, "auto-reply", 900, request_id=request_id)
    with unit_of_work(engine) as db:
        retention.set_days(db, OPERATOR, "auto-reply", 1)

    assert retention.purge(engine, OPERATOR).total == 0
    assert stored(engine) == {threaded, tied}
    assert audit_of(engine, "held.purged") == []  # nothing purged, nothing to say


def test_a_shortened_retention_takes_effect_at_the_next_purge(engine: Engine) -> None:
    ten_days = held(engine, "bounce", 10)
    assert retention.purge(engine, OPERATOR).total == 0

    with unit_of_work(engine) as db:
        view = retention.set_days(db, OPERATOR, "bounce", 7)
    assert (view.days, view.default_days, view.updated_by) == (7, 30, "cli")

    assert retention.purge(engine, OPERATOR).counts == {"bounce": 1}
    assert ten_days not in stored(engine)
    [change] = audit_of(engine, "retention.set")
    assert (change.target, change.details) == ("bounce", {"days": 7, "previous": 30})


def test_the_defaults_never_purge_mail_a_person_must_act_on(engine: Engine) -> None:
    ancient = {reason: held(engine, reason, 3650) for reason in NEEDS_A_PERSON}
    with unit_of_work(engine) as db:
        defaults = {v.reason: v.days for v in retention.listing(db)}
    assert all(defaults[r] is None for r in NEEDS_A_PERSON)
    assert all(defaults[r] == 30 for r in MACHINE_MAIL)

    assert retention.purge(engine, OPERATOR).total == 0
    assert stored(engine) == set(ancient.values())

    with unit_of_work(engine) as db:  # only an administrator's explicit choice forgets them
        retention.set_days(db, OPERATOR, "oversize", 365)
    assert retention.purge(engine, OPERATOR).counts == {"oversize": 1}
    assert stored(engine) == set(ancient.values()) - {ancient["oversize"]}


def test_retention_turned_off_keeps_machine_mail(engine: Engine) -> None:
    kept = held(engine, "own-mail", 100)
    with unit_of_work(engine) as db:
        retention.set_days(db, OPERATOR, "own-mail", None)
    assert retention.purge(engine, OPERATOR).total == 0
    assert stored(engine) == {kept}


def test_a_large_purge_goes_in_batches_and_misses_none(engine: Engine) -> None:
    expired = {held(engine, "auto-reply", 40 + n) for n in range(7)}
    young = held(engine, "auto-reply", 1)
    assert retention.purge(engine, OPERATOR, batch=3).counts == {"auto-reply": 7}
    assert stored(engine) == {young}
    assert expired.isdisjoint(stored(engine))


def test_only_administrators_change_retention_or_purge(engine: Engine) -> None:
    with unit_of_work(engine) as db:
        ann = users.actor_for(users.add(db, OPERATOR, "ann@example.test", "password-1"))
    old = held(engine, "auto-reply", 90)
    with pytest.raises(PermissionDenied), unit_of_work(engine) as db:
        retention.set_days(db, ann, "auto-reply", 1)
    with pytest.raises(PermissionDenied):
        retention.purge(engine, ann)
    assert stored(engine) == {old}
    assert audit_of(engine, "retention.set") == []


def test_unknown_reasons_and_impossible_days_are_refused(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="choose one of auto-reply"), unit_of_work(engine) as db:
        retention.set_days(db, OPERATOR, "spam", 3)
    with pytest.raises(InvalidInput, match="between 1 and"), unit_of_work(engine) as db:
        retention.set_days(db, OPERATOR, "bounce", 0)


def test_held_purge_dry_run_counts_and_deletes_nothing(cli: Cli, engine: Engine) -> None:
    expired = {held(engine, "auto-reply", 31), held(engine, "bounce", 31)}
    young = held(engine, "bounce", 2)

    dry = cli("held", "purge", "--dry-run", "--json")
    assert dry.code == 0, dry.stderr
    assert json.loads(dry.stdout) == {
        "dry_run": True,
        "purged": 2,
        "by_reason": {"auto-reply": 1, "bounce": 1},
    }
    assert stored(engine) == expired | {young}
    assert audit_of(engine, "held.purged") == []

    real = cli("held", "purge")
    assert real.code == 0, real.stderr
    assert real.stdout.startswith("Purged 2 held messages.")
    assert stored(engine) == {young}


def test_the_retention_commands_show_set_and_turn_off(cli: Cli, engine: Engine) -> None:
    assert cli("retention", "set", "auto-reply", "7").code == 0
    assert cli("retention", "off", "bounce").code == 0
    shown = {r["reason"]: r for r in json.loads(cli("retention", "show", "--json").stdout)}
    assert (shown["auto-reply"]["days"], shown["auto-reply"]["updated_by"]) == (7, "cli")
    assert shown["bounce"]["days"] is None and shown["bounce"]["default_days"] == 30
    assert shown["no-workflow"]["kind"] == "needs a person"
    text = cli("retention", "show").stdout
    assert "auto-reply" in text and "7 days" in text and "kept until a person acts" in text

    refused = cli("retention", "set", "everything", "1")
    assert refused.code == 1 and "There is no held reason 'everything'" in refused.stderr


def test_the_scheduler_purges_and_sweeps_when_it_starts(engine: Engine) -> None:
    expired = held(engine, "auto-reply", 31)
    young = held(engine, "auto-reply", 3)
    with unit_of_work(engine) as db:  # a failed sign-in from yesterday: past the lockout window
        db.add(LoginFailure(key="ann@example.test|192.0.2.1", at=utcnow() - timedelta(days=1)))
    done: list[Upkeep] = []
    finished = threading.Event()

    def on_upkeep(upkeep: Upkeep) -> None:
        done.append(upkeep)
        finished.set()

    scheduler = Scheduler(engine, workers=2, idle=False, on_upkeep=on_upkeep)
    scheduler.start()
    try:
        assert finished.wait(timeout=30)
    finally:
        scheduler.stop()
    [upkeep] = done
    assert upkeep.purge is not None and upkeep.purge.counts == {"auto-reply": 1}
    assert upkeep.sweep is not None and upkeep.sweep.login_failures == 1
    assert stored(engine) == {young} and expired not in stored(engine)
    [entry] = audit_of(engine, "held.purged")
    assert entry.actor == "postroom"


def test_counting_matches_what_the_purge_deletes(engine: Engine) -> None:
    for days in (31, 32, 33):
        held(engine, "list-mail", days)
    planned = retention.purge(engine, OPERATOR, dry_run=True)
    assert len(stored(engine)) == 3
    assert retention.purge(engine, OPERATOR).counts == planned.counts == {"list-mail": 3}
