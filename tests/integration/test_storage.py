"""The model and its rules, on SQLite and on PostgreSQL (every test here runs on both)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from postroom.errors import Conflict, InvalidInput, NotFound, PermissionDenied, ReasonRequired
from postroom.services import audit, mailboxes, servers, users, workflows
from postroom.services.actors import OPERATOR, Actor
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec
from postroom.storage.db import unit_of_work
from postroom.storage.models import AuditEntry, Mailbox, Server

pytestmark = pytest.mark.usefixtures("database_url")


def _setup(engine: Engine) -> tuple[Actor, Actor]:
    with unit_of_work(engine) as db:
        servers.add(db, OPERATOR, ServerSpec("imap-main", "imap", host="imap.example.test"))
        servers.add(
            db,
            OPERATOR,
            ServerSpec("smtp-main", "smtp", host="smtp.example.test", security="starttls"),
        )
        workflows.add(db, OPERATOR, "Support", "New,Triage,Done")
        ann = users.actor_for(users.add(db, OPERATOR, "ann@example.test", "ann-password"))
        bob = users.actor_for(users.add(db, OPERATOR, "bob@example.test", "bob-password"))
    return ann, bob


def _personal(address: str) -> MailboxSpec:
    return MailboxSpec(address, incoming="imap-main", outgoing="smtp-main", password="pw-12345")


def test_the_first_personal_mailbox_is_the_default_and_only_one_stays_default(
    engine: Engine,
) -> None:
    ann, _ = _setup(engine)
    with unit_of_work(engine) as db:
        first = mailboxes.add(db, ann, _personal("ann@example.test"))
        second = mailboxes.add(db, ann, _personal("ann.work@example.test"))
        assert (first.is_default, second.is_default) == (True, False)
        mailboxes.set_default(db, ann, "ann.work@example.test")
    with unit_of_work(engine) as db:
        defaults = db.scalars(select(Mailbox.address).where(Mailbox.is_default)).all()
    assert defaults == ["ann.work@example.test"]


def test_the_database_itself_refuses_a_second_default_for_one_user(engine: Engine) -> None:
    ann, _ = _setup(engine)
    with unit_of_work(engine) as db:
        mailboxes.add(db, ann, _personal("ann@example.test"))
        mailboxes.add(db, ann, _personal("ann.work@example.test"))
    with pytest.raises(IntegrityError), unit_of_work(engine) as db:
        db.execute(text("UPDATE mailboxes SET is_default = TRUE"))


def test_removing_the_default_mailbox_makes_another_the_default(engine: Engine) -> None:
    ann, _ = _setup(engine)
    with unit_of_work(engine) as db:
        mailboxes.add(db, ann, _personal("ann@example.test"))
        mailboxes.add(db, ann, _personal("ann.work@example.test"))
        mailboxes.remove(db, ann, "ann@example.test", "left the project")
    with unit_of_work(engine) as db:
        assert mailboxes.get_for(db, ann, "ann.work@example.test").is_default


def test_a_server_in_use_cannot_be_removed_and_the_error_names_its_mailboxes(
    engine: Engine,
) -> None:
    ann, _ = _setup(engine)
    with unit_of_work(engine) as db:
        mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec(
                "desk@example.test",
                incoming="imap-main",
                system=True,
                password="pw",
                workflow="Support",
            ),
        )
        mailboxes.add(db, ann, _personal("ann@example.test"))
    with pytest.raises(Conflict) as refused, unit_of_work(engine) as db:
        servers.remove(db, OPERATOR, "imap-main")
    assert "ann@example.test" in str(refused.value)
    assert "desk@example.test" in str(refused.value)
    with unit_of_work(engine) as db:
        assert db.scalar(select(func.count()).select_from(Server)) == 2


def test_removing_a_mailbox_needs_a_reason_and_keeps_it_in_the_audit_log(engine: Engine) -> None:
    ann, _ = _setup(engine)
    with unit_of_work(engine) as db:
        mailboxes.add(db, ann, _personal("ann@example.test"))
    with pytest.raises(ReasonRequired), unit_of_work(engine) as db:
        mailboxes.remove(db, ann, "ann@example.test", "  ")
    with unit_of_work(engine) as db:
        mailboxes.remove(db, ann, "ann@example.test", "I left the company")
    with unit_of_work(engine) as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "mailbox.removed")).one()
        assert (entry.actor, entry.reason) == ("ann@example.test", "I left the company")
        assert db.scalar(select(func.count()).select_from(Mailbox)) == 0


def test_a_user_never_sees_nor_touches_another_users_mailbox(engine: Engine) -> None:
    ann, bob = _setup(engine)
    with unit_of_work(engine) as db:
        mailboxes.add(db, ann, _personal("ann@example.test"))
    with unit_of_work(engine) as db:
        assert mailboxes.listing(db, bob) == []
        for action in (
            lambda: mailboxes.get_for(db, bob, "ann@example.test"),
            lambda: mailboxes.set_default(db, bob, "ann@example.test"),
            lambda: mailboxes.remove(db, bob, "ann@example.test", "mine now"),
        ):
            with pytest.raises(NotFound) as refused:
                action()
            assert "among those you manage" in str(refused.value)


def test_a_user_may_not_add_system_mailboxes_nor_mailboxes_for_others(engine: Engine) -> None:
    ann, _ = _setup(engine)
    with pytest.raises(PermissionDenied), unit_of_work(engine) as db:
        mailboxes.add(
            db,
            ann,
            MailboxSpec("desk@example.test", incoming="imap-main", system=True, password="pw"),
        )
    with pytest.raises(PermissionDenied), unit_of_work(engine) as db:
        spec = _personal("bob@example.test")
        spec.owner = "bob@example.test"
        mailboxes.add(db, ann, spec)
    with pytest.raises(PermissionDenied), unit_of_work(engine) as db:
        servers.add(db, ann, ServerSpec("mine", "imap", host="imap.example.test"))


def test_two_users_may_add_the_same_address_without_learning_of_each_other(engine: Engine) -> None:
    ann, bob = _setup(engine)
    with unit_of_work(engine) as db:
        mailboxes.add(db, ann, _personal("shared@example.test"))
        mailboxes.add(db, bob, _personal("shared@example.test"))
    with pytest.raises(Conflict), unit_of_work(engine) as db:
        mailboxes.add(db, bob, _personal("shared@example.test"))


def test_a_deactivated_or_removed_workflow_stays_shown_on_its_mailbox(engine: Engine) -> None:
    _setup(engine)
    with unit_of_work(engine) as db:
        mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec(
                "desk@example.test",
                incoming="imap-main",
                system=True,
                password="pw",
                workflow="Support",
            ),
        )
        workflows.set_active(db, OPERATOR, "Support", False)
    with unit_of_work(engine) as db:
        box = mailboxes.get_for(db, OPERATOR, "desk@example.test")
        assert box.workflow is not None
        assert (box.workflow.name, box.workflow.status) == ("Support", "inactive")
        workflows.remove(db, OPERATOR, "Support", "merged into Helpdesk")
    with unit_of_work(engine) as db:
        box = mailboxes.get_for(db, OPERATOR, "desk@example.test")
        assert box.workflow is not None
        assert (box.workflow.name, box.workflow.status) == ("Support", "deleted")
        assert [w.name for w in workflows.listing(db)] == []


def test_every_change_writes_the_audit_log(engine: Engine) -> None:
    ann, _ = _setup(engine)
    with unit_of_work(engine) as db:
        mailboxes.add(db, ann, _personal("ann@example.test"))
        mailboxes.set_default(db, ann, "ann@example.test")
        workflows.set_active(db, OPERATOR, "Support", False)
        mailboxes.remove(db, ann, "ann@example.test", "done")
        servers.remove(db, OPERATOR, "smtp-main")
    with unit_of_work(engine) as db:
        actions = [e.action for e in reversed(audit.entries(db, OPERATOR, 0))]
    assert actions == [
        "server.added",
        "server.added",
        "workflow.added",
        "user.added",
        "user.added",
        "mailbox.added",
        "mailbox.default-set",
        "workflow.deactivated",
        "mailbox.removed",
        "server.removed",
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (MailboxSpec("desk@example.test", incoming="imap-main", system=True), "--password-stdin"),
        (MailboxSpec("not-an-address", incoming="imap-main", system=True, password="p"), "@"),
        (
            MailboxSpec("desk@example.test", incoming="smtp-main", system=True, password="p"),
            "cannot receive",
        ),
        (
            MailboxSpec("desk@example.test", incoming="nope", system=True, password="p"),
            "server list",
        ),
        (MailboxSpec("desk@example.test", system=True, password="p"), "incoming or an outgoing"),
        (
            MailboxSpec(
                "desk@example.test",
                incoming="imap-main",
                system=True,
                password="p",
                workflow="Nope",
            ),
            "workflow list",
        ),
        (
            MailboxSpec(
                "desk@example.test",
                incoming="imap-main",
                system=True,
                password="p",
                after_import="move:",
            ),
            "Name the folder",
        ),
    ],
)
def test_a_refused_mailbox_stores_nothing(engine: Engine, spec: MailboxSpec, message: str) -> None:
    _setup(engine)
    with pytest.raises((InvalidInput, NotFound)) as refused, unit_of_work(engine) as db:
        mailboxes.add(db, OPERATOR, spec)
    assert message in str(refused.value)
    with unit_of_work(engine) as db:
        assert db.scalar(select(func.count()).select_from(Mailbox)) == 0
        assert (
            db.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "mailbox.added")
            )
            == 0
        )


def test_pop3_mailboxes_delete_after_import_by_default_and_refuse_mark_read(engine: Engine) -> None:
    _setup(engine)
    with unit_of_work(engine) as db:
        servers.add(db, OPERATOR, ServerSpec("pop", "pop3", host="pop.example.test"))
        box = mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec("desk@example.test", incoming="pop", system=True, password="p"),
        )
        assert box.after_import == "delete"
        imap_box = mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec("imap@example.test", incoming="imap-main", system=True, password="p"),
        )
        assert imap_box.after_import == "mark-read"
    with pytest.raises(InvalidInput, match="POP3 has no read flag"), unit_of_work(engine) as db:
        mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec(
                "p2@example.test",
                incoming="pop",
                system=True,
                password="p",
                after_import="mark-read",
            ),
        )


def test_the_password_is_stored_sealed_not_in_plaintext(engine: Engine, postroom_env: Path) -> None:
    _setup(engine)
    with unit_of_work(engine) as db:
        mailboxes.add(
            db,
            OPERATOR,
            MailboxSpec(
                "desk@example.test",
                incoming="imap-main",
                system=True,
                password="Tr0ub4dor&3-unique",
            ),
        )
    with unit_of_work(engine) as db:
        stored = db.scalars(select(Mailbox)).one()
        assert stored.password is not None and b"Tr0ub4dor" not in stored.password
        assert mailboxes.password_of(stored) == "Tr0ub4dor&3-unique"
