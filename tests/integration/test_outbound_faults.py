"""The sending worker killed with SIGKILL at random instants: no email is lost, and none the
server accepted is sent again, proved from the server's own record of what it received."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from postroom.outbound.compose import Draft
from postroom.services import outbox
from postroom.services.actors import OPERATOR
from postroom.storage.db import default_engine, unit_of_work
from postroom.storage.models import OutboxItem, utcnow
from tests.conftest import Cli
from tests.integration.killing import kill_randomly
from tests.integration.mailhelpers import add_mailbox, add_server, cli_json
from tests.servers.smtp import SmtpServer

KILLS = int(os.environ.get("POSTROOM_TEST_KILLS", "5"))
EMAILS = int(os.environ.get("POSTROOM_TEST_SEND_EMAILS", "200"))


@pytest.mark.parametrize("window", [1, 20])
def test_sigkill_while_sending_loses_nothing_and_sends_nothing_twice(
    cli: Cli, postroom_env: Path, window: int
) -> None:
    with SmtpServer(users={"desk@example.test": "desk-pass-1"}, tls=False) as server:
        add_server(cli, "out", "smtp", server.port, "none")
        add_mailbox(cli, "desk@example.test", "desk-pass-1", "--outgoing", "out")
        queued: dict[str, int] = {}

        def refill() -> None:
            """Queue another EMAILS once the last ones are all gone from the queue."""
            with unit_of_work(default_engine()) as db:
                waiting = db.scalar(
                    select(func.count()).where(OutboxItem.state.in_(("queued", "sending")))
                )
                if waiting:
                    return
                for _ in range(EMAILS):
                    n = len(queued)
                    draft = Draft(
                        sender="desk@example.test", to=(f"c{n}@example.org",), subject=f"Update {n}"
                    )
                    item = outbox.enqueue(db, OPERATOR, draft, audited=False)
                    queued[item.message_id] = item.id

        env = os.environ | {"POSTROOM_SEND_WINDOW": str(window)}
        killed = kill_randomly(["outbox", "flush", "--once"], env, window, KILLS, refill)
        assert killed >= 1, "no run was killed: the proof proved nothing"
        # A dead worker's lease must expire before its rows are swept; age them as time would.
        with default_engine().begin() as connection:
            connection.execute(
                update(OutboxItem).where(OutboxItem.state == "sending").values(lease_until=utcnow())
            )
        final = subprocess.run(
            [sys.executable, "-m", "postroom", "outbox", "flush", "--once"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert final.returncode == 0, final.stderr
        received = Counter(
            str(message_from_bytes(m.data, policy=policy.default)["Message-ID"])
            for m in server.messages
        )
    assert [mid for mid, n in received.items() if n > 1] == [], "an email was sent twice"
    _, items = cli_json(cli, "outbox", "list", "--limit", "0")
    states = {item["message_id"]: item["state"] for item in items}
    assert set(states) == set(queued)
    for message_id, state in states.items():
        if state == "sent":
            assert received[message_id] == 1, "sent but the server never received it"
        else:  # maybe delivered: kept, visible, never resent by itself
            assert state == "uncertain", (message_id, state)
            assert received[message_id] <= 1
    # Each kill leaves at most the emails of one marked window uncertain.
    assert sum(1 for s in states.values() if s == "uncertain") <= killed * window
