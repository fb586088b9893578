"""What each SMTP answer does to an outbox item, against a server whose replies are scripted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Cli
from tests.integration.mailhelpers import add_mailbox, add_server, cli_json
from tests.servers.scripted_smtp import Reply, ScriptedSmtpServer

SENDER = "desk@example.test"


@pytest.fixture(params=[False, True], ids=["one-by-one", "pipelined"])
def scripted(cli: Cli, request: pytest.FixtureRequest) -> Iterator[ScriptedSmtpServer]:
    """Each answer is tested twice: to a server that offers PIPELINING (MAIL, RCPT and DATA
    go in one write) and to one that does not."""
    with ScriptedSmtpServer(
        users={SENDER: "desk-pass-1"}, tls=False, pipelining=request.param
    ) as server:
        add_server(cli, "out", "smtp", server.port, "none", "--timeout", "1")
        add_mailbox(cli, SENDER, "desk-pass-1", "--outgoing", "out")
        yield server


def _send(cli: Cli, *to: str) -> int:
    args = [a for address in to for a in ("--to", address)]
    code, item = cli_json(cli, "send", "--from", SENDER, "--subject", "Update", *args)
    assert code == 0, item
    return int(item["id"])


def _flush(cli: Cli) -> dict[str, Any]:
    _, result = cli_json(cli, "outbox", "flush", "--once", "--retry-now")
    assert isinstance(result, dict)
    return result


def _item(cli: Cli, item_id: int) -> dict[str, Any]:
    _, item = cli_json(cli, "outbox", "show", str(item_id))
    assert isinstance(item, dict)
    return item


def _statuses(item: dict[str, Any]) -> dict[str, tuple[str, int | None]]:
    return {r["address"]: (r["status"], r["code"]) for r in item["recipients"]}


def test_451_at_data_defers_and_the_retry_delivers(cli: Cli, scripted: ScriptedSmtpServer) -> None:
    scripted.script(Reply(data="451 4.3.0 Try later"))
    item_id = _send(cli, "ann@example.org")
    assert _flush(cli)["deferred"] == 1
    assert _item(cli, item_id)["state"] == "queued"
    assert _flush(cli)["sent"] == 1
    assert [r.replied for r in scripted.received] == ["451 4.3.0 Try later", "250 2.0.0 OK: queued"]


def test_421_at_the_greeting_defers(cli: Cli, scripted: ScriptedSmtpServer) -> None:
    scripted.script(Reply(greeting="421 4.3.2 Too busy"))
    item_id = _send(cli, "ann@example.org")
    assert _flush(cli)["deferred"] == 1
    assert _item(cli, item_id)["state"] == "queued"
    assert _flush(cli)["sent"] == 1


def test_partial_acceptance_is_recorded_recipient_by_recipient(
    cli: Cli, scripted: ScriptedSmtpServer
) -> None:
    scripted.script(
        Reply(
            rcpt={
                "bob@example.org": "452 4.2.2 Mailbox full",
                "eve@example.org": "550 5.1.1 No such user",
            }
        )
    )
    item_id = _send(cli, "ann@example.org", "bob@example.org", "eve@example.org")
    _flush(cli)
    item = _item(cli, item_id)
    assert item["state"] == "queued"  # bob may still get it
    assert _statuses(item) == {
        "ann@example.org": ("accepted", 250),
        "bob@example.org": ("pending", 452),
        "eve@example.org": ("refused", 550),
    }
    _flush(cli)
    item = _item(cli, item_id)
    assert item["state"] == "sent"
    assert _statuses(item)["bob@example.org"] == ("accepted", 250)
    assert [r.rcpt_tos for r in scripted.received] == [["ann@example.org"], ["bob@example.org"]]


def test_554_at_data_fails_for_good(cli: Cli, scripted: ScriptedSmtpServer) -> None:
    scripted.script(Reply(data="554 5.7.1 Rejected as spam"))
    item_id = _send(cli, "ann@example.org")
    assert _flush(cli)["failed"] == 1
    item = _item(cli, item_id)
    assert item["state"] == "failed" and "554" in item["last_error"]
    assert _flush(cli)["sent"] == 0


@pytest.mark.parametrize("rule", [Reply(delay_data_reply=3.0), Reply(drop_after_data=True)])
def test_a_lost_answer_to_data_is_never_resent_by_itself(
    cli: Cli, scripted: ScriptedSmtpServer, rule: Reply
) -> None:
    scripted.script(rule)
    item_id = _send(cli, "ann@example.org")
    assert _flush(cli)["uncertain"] == 1
    assert _item(cli, item_id)["state"] == "uncertain"
    assert _flush(cli)["sent"] == 0
    assert len(scripted.wait_for(1)) == 1  # the server has it: sending again would duplicate
    code, _ = cli_json(cli, "outbox", "retry", str(item_id))  # a person decides
    assert code == 0
    assert _flush(cli)["sent"] == 1


def test_the_emails_after_a_lost_answer_go_back_to_the_queue_unmarked(
    cli: Cli, scripted: ScriptedSmtpServer
) -> None:
    scripted.script(Reply(drop_after_data=True))
    first, second = _send(cli, "ann@example.org"), _send(cli, "bob@example.org")
    result = _flush(cli)
    assert (result["uncertain"], result["deferred"]) == (1, 1)
    assert _item(cli, first)["state"] == "uncertain"
    waiting = _item(cli, second)
    assert waiting["state"] == "queued" and "broke on an earlier email" in waiting["last_error"]
    assert _flush(cli)["sent"] == 1  # never marked, so sent, not left uncertain
    assert _item(cli, second)["state"] == "sent"
