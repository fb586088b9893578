"""`postroom outbox cancel` and the list's filters, as an operator uses them: the same service
as the console and the API, against a real SMTP server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Cli
from tests.integration.mailhelpers import add_mailbox, add_server, cli_json
from tests.servers.smtp import SmtpServer

SENDER = "desk@example.test"

pytestmark = pytest.mark.usefixtures("trust_test_ca")


def _ids(cli: Cli, *filters: str) -> list[int]:
    code, rows = cli_json(cli, "outbox", "list", *filters)
    assert code == 0, rows
    return [row["id"] for row in rows]


def test_an_operator_cancels_a_queued_email_and_narrows_the_list(
    cli: Cli, smtp_server: SmtpServer
) -> None:
    add_server(cli, "out", "smtp", smtp_server.port, "starttls")
    add_mailbox(cli, SENDER, "desk-pass-1", "--outgoing", "out")
    items = []
    for to in ("ann@example.org", "bob@example.org"):
        code, item = cli_json(cli, "send", "--from", SENDER, "--to", to, "--subject", "Hi")
        assert code == 0, item
        items.append(item["id"])
    first, second = items

    code, cancelled = cli_json(cli, "outbox", "cancel", str(first))
    assert code == 0 and cancelled["state"] == "cancelled"
    again = cli("outbox", "cancel", str(first), "--json")
    assert again.code == 1 and "only queued or deferred" in json.loads(again.stderr)["message"]

    before = len(smtp_server.messages)
    code, flushed = cli_json(cli, "outbox", "flush", "--once", "--retry-now")
    assert code == 0 and flushed["sent"] == 1
    assert [m.rcpt_tos for m in smtp_server.messages[before:]] == [["bob@example.org"]]

    today = datetime.now(UTC).date()
    assert _ids(cli, "--recipient", "ann@") == [first]
    assert _ids(cli, "--state", "cancelled") == [first]
    assert _ids(cli, "--mailbox", SENDER, "--since", today.isoformat()) == [second, first]
    assert _ids(cli, "--until", (today - timedelta(days=1)).isoformat()) == []
    bad = cli("outbox", "list", "--since", "yesterday", "--json")
    assert bad.code == 1 and "give YYYY-MM-DD" in json.loads(bad.stderr)["message"]
