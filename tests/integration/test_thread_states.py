"""Each email we sent shows its outbox state in the request's thread (issue 13.12): queued,
deferred with its reason and next try, failed, sent; never "sent" while it waits or fails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Cli
from tests.integration.mailhelpers import add_server, cli_json
from tests.mailfactory import email_from
from tests.servers.scripted_pop3 import ScriptedPop3
from tests.servers.scripted_smtp import Reply, ScriptedSmtpServer

ADDRESS = "desk@example.test"
PASSWORD = "desk-pass-1"


@pytest.fixture
def request_id(cli: Cli) -> Iterator[tuple[int, ScriptedSmtpServer]]:
    """A request opened from one email, on a desk that sends through a scripted server."""
    with (
        ScriptedPop3({"u1": email_from("ann@example.org", "Printer")}, PASSWORD) as pop,
        ScriptedSmtpServer(users={ADDRESS: PASSWORD}, tls=False) as smtp,
    ):
        assert cli("workflow", "add", "Support", "--steps", "New,Triage,Done").code == 0
        add_server(cli, "in", "pop3", pop.port, "none")
        add_server(cli, "out", "smtp", smtp.port, "none", "--timeout", "2")
        added = cli(
            "mailbox", "add", ADDRESS, "--incoming", "in", "--outgoing", "out",
            "--workflow", "Support", "--password-stdin", input=PASSWORD + "\n",
        )  # fmt: skip
        assert added.code == 0, added.stderr
        assert cli_json(cli, "fetch", "--once")[0] == 0
        _, listed = cli_json(cli, "request", "list")
        yield int(listed[0]["id"]), smtp


def _reply_status(cli: Cli, request: int) -> dict[str, Any]:
    _, shown = cli_json(cli, "request", "show", str(request))
    out = [m for m in shown["thread"] if m["direction"] == "out"]
    assert len(out) == 1
    return dict(out[0])


def test_a_replys_outbox_state_shows_in_the_thread_as_it_changes(
    cli: Cli, request_id: tuple[int, ScriptedSmtpServer]
) -> None:
    request, smtp = request_id
    assert cli("request", "reply", str(request), "--body", "On our way.").code == 0
    assert _reply_status(cli, request)["status"] == "queued"
    smtp.script(Reply(data="451 4.3.0 Try again later"))
    cli_json(cli, "outbox", "flush", "--once")
    deferred = _reply_status(cli, request)
    assert deferred["status"] == "deferred"
    assert "451" in deferred["delivery"]["reason"]
    assert deferred["delivery"]["next_attempt_at"] is not None
    text = cli("request", "show", str(request)).stdout
    assert "deferred" in text and " sent " not in text
    smtp.script(Reply(data="550 5.7.1 Relaying denied"))
    cli_json(cli, "outbox", "flush", "--once", "--retry-now")
    failed = _reply_status(cli, request)
    assert failed["status"] == "failed" and "Relaying denied" in failed["delivery"]["reason"]
    assert failed["delivery"]["settled"] is True


def test_a_reply_the_server_takes_shows_as_sent(
    cli: Cli, request_id: tuple[int, ScriptedSmtpServer]
) -> None:
    request, _ = request_id
    assert cli("request", "reply", str(request), "--body", "Done.").code == 0
    _, flushed = cli_json(cli, "outbox", "flush", "--once")
    assert flushed["sent"] == 1
    sent = _reply_status(cli, request)
    assert sent["status"] == "sent" and sent["delivery"]["reason"] is None
