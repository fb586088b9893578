"""Two administrators demoting each other at the same instant: the last-admin check and the
change act as one step, so exactly one of them succeeds and one administrator is left. On
SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from postroom.errors import Conflict
from postroom.services import user_admin, users
from postroom.services.actors import OPERATOR, Actor
from postroom.storage.db import unit_of_work
from postroom.storage.models import User

pytestmark = pytest.mark.usefixtures("database_url", "engine")


@pytest.mark.parametrize("change", ["disable", "demote", "remove"])
def test_two_admins_acting_on_each_other_at_once_leave_one_admin(change: str) -> None:
    with unit_of_work() as db:
        one = users.actor_for(users.add(db, OPERATOR, "one@example.test", "pass-one-1", admin=True))
        two = users.actor_for(users.add(db, OPERATOR, "two@example.test", "pass-two-1", admin=True))
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def act(actor: Actor, target: str) -> None:
        start.wait()
        try:
            with unit_of_work() as db:
                if change == "disable":
                    user_admin.disable(db, actor, target)
                elif change == "demote":
                    user_admin.set_role(db, actor, target, admin=False)
                else:
                    user_admin.remove(db, actor, target, "race")
            outcomes.append("done")
        except Conflict:
            outcomes.append("refused")

    threads = [
        threading.Thread(target=act, args=(one, "two@example.test")),
        threading.Thread(target=act, args=(two, "one@example.test")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["done", "refused"]
    with unit_of_work() as db:
        left = db.scalar(
            select(func.count()).select_from(User).where(User.is_admin, User.disabled_at.is_(None))
        )
    assert left == 1
