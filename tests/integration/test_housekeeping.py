"""The hourly upkeep sweeps sign-in rows that decide nothing any more: expired sessions,
OAuth sign-ins that ran out of time, failed sign-ins older than the guessing window. Rows are
made by the real sign-in paths and aged in the database, so nothing waits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update

from postroom.errors import NotSignedIn, PermissionDenied, RateLimited
from postroom.services import auth, housekeeping, oauth, oauth_apps, users
from postroom.services.actors import OPERATOR, SYSTEM
from postroom.services.oauth_apps import OAuthAppSpec
from postroom.storage.db import unit_of_work
from postroom.storage.models import LoginFailure, OAuthFlow, WebSession, utcnow

pytestmark = pytest.mark.usefixtures("database_url")


def _signed_in(engine: Engine, email: str) -> str:
    with unit_of_work(engine) as db:
        users.add(db, OPERATOR, email, "password-1")
    return auth.token_hash(auth.sign_in(engine, email, "password-1", "127.0.0.1").session_id)


def _refused(engine: Engine, email: str, client: str) -> None:
    with pytest.raises(NotSignedIn):
        auth.sign_in(engine, email, "wrong", client)


def _flow(engine: Engine, address: str) -> str:
    with unit_of_work(engine) as db:
        url = oauth.start_web_flow(
            db, OPERATOR, "entra", address, "http://127.0.0.1:8025/oauth/callback", system=True
        )
    return url.split("state=")[1].split("&")[0]


def test_expired_sessions_flows_and_old_failures_are_swept_the_rest_kept(engine: Engine) -> None:
    stale_session = _signed_in(engine, "ann@example.test")
    live_session = _signed_in(engine, "bob@example.test")
    _refused(engine, "ann@example.test", "192.0.2.1")
    _refused(engine, "ann@example.test", "192.0.2.2")
    with unit_of_work(engine) as db:
        oauth_apps.add(db, OPERATOR, OAuthAppSpec("entra", "microsoft", "client-1"))
    stale_flow = _flow(engine, "desk@example.test")
    live_flow = _flow(engine, "help@example.test")
    past = utcnow() - timedelta(minutes=1)
    with unit_of_work(engine) as db:
        db.execute(
            update(WebSession).where(WebSession.token_hash == stale_session).values(expires_at=past)
        )
        db.execute(update(OAuthFlow).where(OAuthFlow.state == stale_flow).values(expires_at=past))
        db.execute(
            update(LoginFailure)
            .where(LoginFailure.key.endswith("|192.0.2.1"))
            .values(at=utcnow() - auth.FAILURE_WINDOW - timedelta(seconds=1))
        )

    with unit_of_work(engine) as db:
        swept = housekeeping.sweep(db, SYSTEM)

    assert (swept.sessions, swept.oauth_flows, swept.login_failures) == (1, 1, 1)
    with unit_of_work(engine) as db:
        assert list(db.scalars(select(WebSession.token_hash))) == [live_session]
        assert list(db.scalars(select(OAuthFlow.state))) == [live_flow]
        assert list(db.scalars(select(LoginFailure.key))) == ["ann@example.test|192.0.2.2"]


def test_a_failure_inside_the_window_still_counts_after_a_sweep(engine: Engine) -> None:
    with unit_of_work(engine) as db:
        users.add(db, OPERATOR, "ann@example.test", "password-1")
    for _ in range(auth.MAX_FAILURES):
        _refused(engine, "ann@example.test", "192.0.2.9")
    with unit_of_work(engine) as db:
        assert housekeeping.sweep(db, SYSTEM).login_failures == 0
    with pytest.raises(RateLimited, match="Too many failed sign-ins"):
        auth.sign_in(engine, "ann@example.test", "password-1", "192.0.2.9")


def test_only_postroom_or_an_administrator_sweeps(engine: Engine) -> None:
    with unit_of_work(engine) as db:
        ann = users.actor_for(users.add(db, OPERATOR, "ann@example.test", "password-1"))
    with pytest.raises(PermissionDenied), unit_of_work(engine) as db:
        housekeeping.sweep(db, ann)
