"""Editing what requests and mailboxes stand on: a workflow's steps and an OAuth app, on SQLite
and on PostgreSQL (every test here runs on both)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from postroom.errors import Conflict, InvalidInput, PermissionDenied
from postroom.services import audit, mailboxes, oauth_apps, servers, users, workflows
from postroom.services.actors import OPERATOR
from postroom.services.mailboxes import MailboxSpec
from postroom.services.oauth_apps import OAuthAppSpec
from postroom.services.servers import ServerSpec
from postroom.storage.db import unit_of_work
from postroom.storage.models import OAuthApp, Request, Workflow
from postroom.storage.secrets import default_box

pytestmark = pytest.mark.usefixtures("database_url")


def _support_with_requests(engine: Engine, on_step: dict[str, int]) -> None:
    """Support: New, Triage, Done, with the given number of requests on each named step."""
    with unit_of_work(engine) as db:
        workflow = workflows.add(db, OPERATOR, "Support", "New,Triage,Done")
        by_name = {s.name: s for s in workflow.steps}
        for step, count in on_step.items():
            for n in range(count):
                db.add(
                    Request(
                        workflow_id=workflow.id, step_id=by_name[step].id, subject=f"{step} {n}"
                    )
                )


def _steps_and_requests(engine: Engine) -> tuple[list[str], dict[str, str]]:
    with unit_of_work(engine) as db:
        workflow = workflows.get(db, "Support")
        placed = {
            r.subject: r.step.name if r.step else ""
            for r in db.scalars(select(Request).where(Request.workflow_id == workflow.id))
        }
        return [s.name for s in workflow.steps], placed


def test_steps_are_renamed_added_and_reordered_and_requests_keep_their_step(
    engine: Engine,
) -> None:
    _support_with_requests(engine, {"Triage": 1, "Done": 1})
    with unit_of_work(engine) as db:
        changed = workflows.set_steps(db, OPERATOR, "Support", "Done, Triage=Working, New, Waiting")
        assert [s.name for s in changed.steps] == ["Done", "Working", "New", "Waiting"]
    assert _steps_and_requests(engine) == (
        ["Done", "Working", "New", "Waiting"],
        {"Triage 0": "Working", "Done 0": "Done"},
    )
    with unit_of_work(engine) as db:
        entry = audit.entries(db, OPERATOR, 1)[0]
    assert entry.action == "workflow.steps-changed"
    assert entry.details["renamed"] == {"Triage": "Working"} and entry.details["removed"] == []


def test_removing_a_step_with_requests_is_refused_saying_how_many(engine: Engine) -> None:
    _support_with_requests(engine, {"Triage": 2})
    with unit_of_work(engine) as db, pytest.raises(Conflict, match="'Triage' of Support has 2"):
        workflows.set_steps(db, OPERATOR, "Support", ["New", "Done"])
    assert _steps_and_requests(engine)[0] == ["New", "Triage", "Done"]
    with unit_of_work(engine) as db:  # an empty step goes
        workflows.set_steps(db, OPERATOR, "Support", ["Triage", "New"])
    assert _steps_and_requests(engine) == (
        ["Triage", "New"],
        {"Triage 0": "Triage", "Triage 1": "Triage"},
    )


@pytest.mark.parametrize(
    ("steps", "words"),
    [
        ("New,Nope=Later,Done", "no step 'Nope' to rename"),
        ("New,Triage,triage", "same name"),
        ("New,Triage=Working,Triage", "appears twice"),
        (" , ", "at least one step"),
    ],
)
def test_a_bad_step_list_is_refused_and_changes_nothing(
    engine: Engine, steps: str, words: str
) -> None:
    _support_with_requests(engine, {})
    with unit_of_work(engine) as db, pytest.raises(InvalidInput, match=words):
        workflows.set_steps(db, OPERATOR, "Support", steps)
    assert _steps_and_requests(engine)[0] == ["New", "Triage", "Done"]


def test_only_administrators_change_steps_and_oauth_apps(engine: Engine) -> None:
    _support_with_requests(engine, {})
    with unit_of_work(engine) as db:
        ann = users.actor_for(users.add(db, OPERATOR, "ann@example.test", "ann-password"))
        oauth_apps.add(db, OPERATOR, OAuthAppSpec("m365", "microsoft", "id-1"))
    with unit_of_work(engine) as db:
        with pytest.raises(PermissionDenied):
            workflows.set_steps(db, ann, "Support", "New")
        with pytest.raises(PermissionDenied):
            oauth_apps.update(db, ann, "m365", OAuthAppSpec("m365", "microsoft", "id-2"))
        with pytest.raises(PermissionDenied):
            oauth_apps.remove(db, ann, "m365")


def _secret(engine: Engine, name: str) -> str | None:
    with unit_of_work(engine) as db:
        app = db.scalars(select(OAuthApp).where(OAuthApp.name == name)).one()
        if app.client_secret is None:
            return None
        return default_box().open(app.client_secret, app.secret_identity("client_secret"))


def test_an_oauth_app_is_edited_and_a_blank_secret_keeps_the_stored_one(engine: Engine) -> None:
    with unit_of_work(engine) as db:
        oauth_apps.add(db, OPERATOR, OAuthAppSpec("m365", "microsoft", "id-1", "secret-1"))
    with unit_of_work(engine) as db:
        oauth_apps.update(
            db, OPERATOR, "m365", OAuthAppSpec("contoso", "microsoft", "id-2", tenant="contoso")
        )
    assert _secret(engine, "contoso") == "secret-1"
    with unit_of_work(engine) as db:
        app = oauth_apps.get(db, "contoso")
        assert (app.client_id, app.tenant) == ("id-2", "contoso")
        oauth_apps.update(
            db, OPERATOR, "contoso", OAuthAppSpec("contoso", "microsoft", "id-2", "s2")
        )
        oauth_apps.add(db, OPERATOR, OAuthAppSpec("other", "google", "id-3"))
    assert _secret(engine, "contoso") == "s2"
    with unit_of_work(engine) as db, pytest.raises(Conflict, match="already exists"):
        oauth_apps.update(db, OPERATOR, "other", OAuthAppSpec("contoso", "google", "id-3"))
    with unit_of_work(engine) as db:
        actions = [e.action for e in audit.entries(db, OPERATOR, 2)]
        assert "oauth-app.changed" in actions
        assert all("s2" not in str(e.details) for e in audit.entries(db, OPERATOR, 0))


def test_an_oauth_app_in_use_is_not_removed_and_the_refusal_names_its_mailboxes(
    engine: Engine,
) -> None:
    with unit_of_work(engine) as db:
        servers.add(db, OPERATOR, ServerSpec("in", "imap", host="imap.example.test"))
        oauth_apps.add(db, OPERATOR, OAuthAppSpec("m365", "microsoft", "id-1"))
        oauth_apps.add(db, OPERATOR, OAuthAppSpec("spare", "google", "id-2"))
        for address in ("desk@example.test", "sales@example.test"):
            mailboxes.add(
                db, OPERATOR, MailboxSpec(address, incoming="in", system=True, oauth_app="m365")
            )
    with (
        unit_of_work(engine) as db,
        pytest.raises(Conflict, match=r"used by 2 mailbox.*desk@example\.test, sales@"),
    ):
        oauth_apps.remove(db, OPERATOR, "m365")
    with unit_of_work(engine) as db:
        oauth_apps.remove(db, OPERATOR, "spare")
    with unit_of_work(engine) as db:
        assert [a.name for a in oauth_apps.listing(db)] == ["m365"]
        assert audit.entries(db, OPERATOR, 1)[0].action == "oauth-app.removed"
        assert db.scalar(select(Workflow.id)) is None
