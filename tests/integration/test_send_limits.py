"""Providers' sending limits: a mailbox past its server's rate waits ("deferred", with when),
never fails; "slow down" answers (421 4.7.0, 452 4.5.3, Exchange's 554 5.2.0 quota, Graph's
429 with Retry-After) pause and tighten the mailbox; every worker shares the counters."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, update

from postroom.outbound.compose import Draft
from postroom.services import delivery, outbox, send_limits
from postroom.services.actors import OPERATOR
from postroom.storage.db import unit_of_work
from postroom.storage.models import SendLimit, utcnow
from tests.conftest import Cli
from tests.integration.mailhelpers import add_mailbox, add_server, cli_json
from tests.integration.oauthhelpers import ok
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer
from tests.servers.scripted_smtp import Reply, ScriptedSmtpServer
from tests.servers.smtp import SmtpServer

SENDER = "desk@example.test"


@pytest.fixture
def scripted(cli: Cli) -> Iterator[ScriptedSmtpServer]:
    with ScriptedSmtpServer(users={SENDER: "desk-pass-1"}, tls=False) as server:
        add_server(cli, "out", "smtp", server.port, "none", "--timeout", "5")
        add_mailbox(cli, SENDER, "desk-pass-1", "--outgoing", "out")
        yield server


def _send(cli: Cli, n: int = 1) -> list[int]:
    ids = []
    for i in range(n):
        code, item = cli_json(cli, "send", "--from", SENDER, "--to", f"c{i}@example.org")
        assert code == 0, item
        ids.append(int(item["id"]))
    return ids


def _flush(cli: Cli) -> dict[str, Any]:
    _, result = cli_json(cli, "outbox", "flush", "--once", "--retry-now")
    assert isinstance(result, dict)
    return result


def _items(cli: Cli) -> dict[int, dict[str, Any]]:
    _, rows = cli_json(cli, "outbox", "list")
    return {row["id"]: row for row in rows}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_the_known_providers_have_their_documented_limits_and_an_admin_changes_them(
    cli: Cli,
) -> None:
    m365 = ok(cli, "server", "add", "m365", "--protocol", "smtp", "--host", "smtp.office365.com",
              "--security", "starttls")  # fmt: skip
    assert (m365["send_rate"], m365["recipients_per_day"]) == ("30/min", 10_000)
    gmail = ok(cli, "server", "add", "google", "--protocol", "gmail")
    assert (gmail["send_rate"], gmail["recipients_per_day"]) == ("2000/day", 10_000)
    other = ok(cli, "server", "add", "lab", "--protocol", "smtp", "--host", "mail.lab.test")
    assert (other["send_rate"], other["recipients_per_day"]) == (None, None)
    changed = ok(
        cli, "server", "edit", "m365", "--send-rate", "10/min", "--recipients-per-day", "0"
    )
    assert (changed["send_rate"], changed["recipients_per_day"]) == ("10/min", None)
    assert ok(cli, "server", "show", "m365")["host"] == "smtp.office365.com"  # the rest stays
    assert ok(cli, "server", "edit", "m365", "--send-rate", "none")["send_rate"] is None
    refused = cli("server", "edit", "m365", "--send-rate", "fast")
    assert refused.code == 1 and "30/min" in refused.stderr


def test_a_third_email_past_two_a_minute_waits_with_its_next_attempt(
    cli: Cli, scripted: ScriptedSmtpServer, engine: Engine
) -> None:
    ok(cli, "server", "edit", "out", "--send-rate", "2/min")
    first, second, third = _send(cli, 3)
    before = utcnow()
    result = _flush(cli)
    assert (result["sent"], result["waiting"], result["failed"]) == (2, 1, 0)
    assert len(scripted.received) == 2
    items = _items(cli)
    assert items[first]["state"] == items[second]["state"] == "sent"
    waiting = items[third]
    assert waiting["state"] == "deferred" and waiting["attempts"] == 0
    assert waiting["wait_reason"] == "2/min"
    next_at = _at(waiting["next_attempt_at"])
    assert before + timedelta(seconds=55) < next_at <= utcnow() + timedelta(seconds=60)
    assert waiting["waiting"].startswith("waiting for the provider's limit: next at ")
    assert next_at.astimezone().strftime("%H:%M") in waiting["waiting"]
    # Asked again at once, even ignoring backoff: still waiting, never failed.
    assert _flush(cli)["sent"] == 0
    assert _items(cli)[third]["state"] == "deferred"
    table = cli("outbox", "list")
    assert "waiting for the provider's limit" in table.stdout
    with engine.connect() as connection:
        (room,) = send_limits.headroom(connection)
    assert (room.emails_left, room.recipients_left, room.paused_until) == (0, None, None)


def _open_the_window(engine: Engine) -> None:
    """The minute has passed (moved, not waited for)."""
    past = utcnow() - timedelta(hours=2)
    with engine.begin() as connection:
        connection.execute(update(SendLimit).values(window_start=past, paused_until=past))


def test_an_email_sent_after_the_wait_goes_out(
    cli: Cli, scripted: ScriptedSmtpServer, engine: Engine
) -> None:
    ok(cli, "server", "edit", "out", "--send-rate", "1/min")
    _, later = _send(cli, 2)
    assert _flush(cli)["sent"] == 1
    _open_the_window(engine)
    assert _flush(cli)["sent"] == 1
    assert _items(cli)[later]["state"] == "sent"


def test_recipients_a_day_hold_back_what_would_pass_it(
    cli: Cli, scripted: ScriptedSmtpServer
) -> None:
    ok(cli, "server", "edit", "out", "--recipients-per-day", "3")
    args = [a for n in range(2) for a in ("--to", f"r{n}@example.org")]
    ids = [cli_json(cli, "send", "--from", SENDER, *args)[1]["id"] for _ in range(2)]
    result = _flush(cli)
    assert (result["sent"], result["waiting"]) == (1, 1)
    waiting = _items(cli)[ids[1]]
    assert waiting["state"] == "deferred" and waiting["wait_reason"] == "3 recipients a day"
    assert _at(waiting["next_attempt_at"]) > utcnow() + timedelta(hours=23)


@pytest.mark.parametrize(
    "rule",
    [
        Reply(mail="421 4.7.0 Temporary rate limit exceeded, try again later"),
        Reply(rcpt={"c0@example.org": "452 4.5.3 Too many recipients"}),
        Reply(
            data="554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; "
            "Failed to process message due to a permanent exception"
        ),
    ],
    ids=["421-4.7.0", "452-4.5.3", "554-5.2.0-quota"],
)
def test_a_slow_down_answer_pauses_the_mailbox_and_nothing_fails(
    cli: Cli, scripted: ScriptedSmtpServer, engine: Engine, rule: Reply
) -> None:
    scripted.script(rule)
    throttled, rest = _send(cli, 2)
    before = utcnow()
    result = _flush(cli)
    assert (result["failed"], result["sent"], result["waiting"]) == (0, 0, 2)
    items = _items(cli)
    code = rule.mail or next(iter(rule.rcpt.values()), None) or rule.data
    assert code is not None
    assert items[throttled]["state"] == items[rest]["state"] == "deferred"
    assert code[:9] in items[throttled]["wait_reason"]
    assert items[throttled]["attempts"] == 1 and items[rest]["attempts"] == 0  # not tried
    assert _at(items[rest]["next_attempt_at"]) >= before + timedelta(seconds=59)
    assert [r["status"] for r in items[throttled]["recipients"]] == ["pending"]
    # Still paused: nothing goes, whatever the backoff says.
    assert _flush(cli)["sent"] == 0
    _open_the_window(engine)
    assert _flush(cli)["sent"] == 2
    with unit_of_work(engine) as db:
        limit = db.query(SendLimit).one()
        assert limit.tight_until is not None and limit.last_throttle is not None
        assert code[:9] in limit.last_throttle


def test_a_slow_down_at_the_greeting_defers_the_whole_group_untried(
    cli: Cli, scripted: ScriptedSmtpServer
) -> None:
    scripted.script(Reply(greeting="421 4.7.0 Too many connections, slow down"))
    ids = _send(cli, 2)
    result = _flush(cli)
    assert (result["failed"], result["waiting"], result["deferred"]) == (0, 2, 0)
    items = _items(cli)
    for item_id in ids:
        assert items[item_id]["state"] == "deferred" and items[item_id]["attempts"] == 0
        assert "421 4.7.0" in items[item_id]["wait_reason"]


def test_a_plain_busy_answer_is_an_ordinary_retry_not_a_throttle(
    cli: Cli, scripted: ScriptedSmtpServer
) -> None:
    scripted.script(Reply(data="451 4.3.0 Try later"))
    (item,) = _send(cli)
    assert _flush(cli)["deferred"] == 1
    assert _items(cli)[item]["state"] == "queued"


def test_graph_429_with_retry_after_defers_until_then(
    cli: Cli, cloud: IdentityServer, graph: GraphServer
) -> None:
    from tests.integration.test_graph import DESK, _desk

    _desk(cli, cloud, graph)
    ok(cli, "send", "--from", DESK, "--to", "ann@example.org")
    graph.throttle(1, 429, "120")
    before = utcnow()
    result = ok(cli, "outbox", "flush", "--once")
    assert (result["failed"], result["sent"], result["waiting"]) == (0, 0, 1)
    item = ok(cli, "outbox", "list")[0]
    assert item["state"] == "deferred" and "429" in item["wait_reason"]
    assert _at(item["next_attempt_at"]) >= before + timedelta(seconds=119)
    assert graph.sent == []


def test_workers_at_once_share_one_limit(database_url: str, cli: Cli, engine: Engine) -> None:
    """Three workers claim at once; the mailbox's 5 a minute holds across them, on SQLite and
    PostgreSQL, and the rest waits."""
    with SmtpServer(users={SENDER: "desk-pass-1"}, tls=False) as server:
        add_server(cli, "plain", "smtp", server.port, "none", "--send-rate", "5/min")
        add_mailbox(cli, SENDER, "desk-pass-1", "--outgoing", "plain")
        with unit_of_work(engine) as db:
            for n in range(30):
                draft = Draft(sender=SENDER, to=(f"c{n}@example.org",), subject=f"Case {n}")
                outbox.enqueue(db, OPERATOR, draft, audited=False)
        start = threading.Barrier(3)

        def worker() -> tuple[int, int]:
            start.wait()
            done = delivery.flush_once(engine)
            return done.sent, done.failed

        with ThreadPoolExecutor(3) as pool:
            results = [f.result() for f in [pool.submit(worker) for _ in range(3)]]
        states = Counter(i["state"] for i in _items(cli).values())
    assert sum(sent for sent, _ in results) == 5 and not any(failed for _, failed in results)
    assert states == {"sent": 5, "deferred": 25}
    assert len(server.messages) == 5
