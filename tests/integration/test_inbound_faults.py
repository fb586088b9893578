"""Faults while fetching: a connection cut mid-FETCH, and the fetching process killed with
SIGKILL at random instants. Afterwards every email is in exactly one request or held."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from postroom.storage.db import default_engine
from postroom.storage.models import Message
from tests.conftest import Cli
from tests.integration.killing import kill_randomly
from tests.integration.mailhelpers import add_desk, cli_json
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot
from tests.servers.proxy import CuttingProxy

KILLS = int(os.environ.get("POSTROOM_TEST_KILLS", "5"))
MESSAGES = int(os.environ.get("POSTROOM_TEST_CRASH_MESSAGES", "300"))


def _setup(cli: Cli, dovecot: Dovecot, protocol: str, port: int, *extra: str) -> str:
    return add_desk(cli, dovecot, protocol, port, *extra, server_args=("--timeout", "5"))


def _stored_message_ids() -> list[str]:
    with default_engine().connect() as connection:
        rows = connection.execute(select(Message.message_id_header)).scalars().all()
    return [r for r in rows if r is not None]


def test_a_connection_cut_mid_fetch_loses_nothing_and_resumes(cli: Cli, dovecot: Dovecot) -> None:
    with CuttingProxy(dovecot.host, dovecot.imap_port) as proxy:
        user = _setup(cli, dovecot, "imap", proxy.port, "--after-import", "delete")
        mails = [email_from(f"c{i}@example.org", f"Case {i}", "x" * 2000) for i in range(60)]
        dovecot.deliver(user, mails)
        proxy.cut_after = 40_000  # well inside the first FETCH response
        code, runs = cli_json(cli, "fetch", "--once")
        assert code == 1 and runs[0]["ok"] is False and proxy.cuts == 1
        assert "connection was lost" in runs[0]["error"]
        _, box = cli_json(cli, "mailbox", "show", user)
        assert box["state"] == "unreachable"
        proxy.cut_after = None
        code, runs = cli_json(cli, "fetch", "--once")
        assert code == 0, runs
    ids = _stored_message_ids()
    assert len(ids) == len(set(ids)) == 60
    assert dovecot.count(user) == 0


@pytest.mark.parametrize(("protocol", "port_name"), [("imap", "imap_port"), ("pop3", "pop3_port")])
def test_sigkill_at_random_instants_loses_nothing_and_imports_nothing_twice(
    cli: Cli, dovecot: Dovecot, postroom_env: Path, protocol: str, port_name: str
) -> None:
    user = _setup(cli, dovecot, protocol, getattr(dovecot, port_name), "--after-import", "delete")
    delivered = 0

    def refill() -> None:
        nonlocal delivered
        if dovecot.count(user) == 0:
            mails = [
                email_from(f"c{i % 40}@example.org", f"Case {i}", "y" * 2500)
                for i in range(delivered, delivered + MESSAGES)
            ]
            delivered += dovecot.deliver(user, mails)

    env = os.environ | {"POSTROOM_FETCH_BATCH_SIZE": "25"}
    killed = kill_randomly(["fetch", "--once"], env, zlib.crc32(protocol.encode()), KILLS, refill)
    assert killed >= 1, "no run was killed: the proof proved nothing"
    final = subprocess.run(
        [sys.executable, "-m", "postroom", "fetch", "--once", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert final.returncode == 0, final.stderr
    ids = _stored_message_ids()
    assert len(ids) == len(set(ids)), "an email was imported twice"
    assert len(ids) == delivered, "an email was lost"
    assert dovecot.count(user) == 0
    with default_engine().connect() as connection:
        unrouted = connection.execute(
            select(func.count())
            .select_from(Message)
            .where(Message.request_id.is_(None), Message.status != "held")
        ).scalar()
    assert unrouted == 0
