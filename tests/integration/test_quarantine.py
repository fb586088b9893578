"""One email never blocks a mailbox (issue 13.3): an email that cannot be fetched, parsed or
stored after a few tries is held as `failed` (with its bytes, or a placeholder naming its
server key and the error) and the rest of the mailbox goes on."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from postroom.inbound import parse, pipeline
from postroom.storage import db as storage_db
from postroom.storage.models import Message
from tests.conftest import Cli, _truncate
from tests.integration.mailhelpers import add_desk, add_server, cli_json
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot
from tests.servers.scripted_pop3 import ScriptedPop3


def _subjects(cli: Cli) -> list[str]:
    _, rows = cli_json(cli, "request", "list", "--limit", "0")
    return sorted(r["subject"] for r in rows)


def _failed(cli: Cli) -> list[dict[str, Any]]:
    _, rows = cli_json(cli, "held", "list", "--reason", "failed", "--limit", "0")
    assert isinstance(rows, list)
    return rows


def _stored() -> list[Message]:
    with storage_db.unit_of_work() as db:
        rows = list(db.scalars(select(Message).order_by(Message.id)))
        db.expunge_all()
    return rows


def _raw_of(key: str) -> bytes:
    return next(m.raw for m in _stored() if m.remote_key == key)


def _pop3_desk(cli: Cli, server: ScriptedPop3) -> str:
    assert cli("workflow", "add", "Support", "--steps", "New,Triage,Done").code == 0
    add_server(cli, "pop", "pop3", server.port, "none", "--timeout", "5")
    added = cli(
        "mailbox",
        "add",
        "desk@example.test",
        "--incoming",
        "pop",
        "--workflow",
        "Support",
        "--password-stdin",
        input=server.password + "\n",
    )
    assert added.code == 0, added.stderr
    return "desk@example.test"


def _three() -> dict[str, bytes]:
    return {
        "u1": email_from("ann@example.org", "First"),
        "u2": email_from("bob@example.org", "Broken one"),
        "u3": email_from("cid@example.org", "Third"),
    }


def test_an_imap_uid_the_server_cannot_read_is_quarantined_and_the_rest_imported(
    cli: Cli, dovecot: Dovecot
) -> None:
    """Dovecot answers a FETCH of a message file it cannot read with BYE: a fetch error that
    also drops the connection, on that one UID only."""
    user = add_desk(cli, dovecot, "imap", dovecot.imap_port)
    dovecot.deliver(user, [email_from("ann@example.org", f"Case {i}") for i in range(4)])
    cur, new = dovecot.maildir(user) / "cur", dovecot.maildir(user) / "new"
    names = sorted(os.listdir(new))
    os.rename(new / names[1], cur / (names[1] + ":2,"))  # as Dovecot would, then unreadable
    os.chmod(cur / (names[1] + ":2,"), 0)
    runs = [cli_json(cli, "fetch", "--once")[1][0] for _ in range(3)]
    assert runs[0]["ok"] is False  # the batch died: every email in it is a suspect
    assert runs[1]["ok"] is True and runs[1]["opened"] == 3  # alone, the culprit is found
    assert _subjects(cli) == ["Case 0", "Case 2", "Case 3"]
    (held,) = _failed(cli)
    assert held["remote_key"].endswith(":2")
    assert "Quarantined after 3 tries" in held["rules"][0]["reason"]
    assert dovecot.count(user) == 4  # never marked or deleted: postroom does not have it
    assert cli_json(cli, "fetch", "--once")[1][0]["fetched"] == 0  # never tried again
    _, box = cli_json(cli, "mailbox", "show", user)
    assert box["state"] == "ok"


def test_a_pop3_message_the_server_refuses_to_retrieve_is_quarantined(cli: Cli) -> None:
    with ScriptedPop3(_three()) as server:
        server.error_on_retr = {"u2": "-ERR [SYS/TEMP] could not read message"}
        _pop3_desk(cli, server)
        first = cli_json(cli, "fetch", "--once")[1][0]
        assert first["ok"] is True and first["opened"] == 2  # the others at once
        assert _subjects(cli) == ["First", "Third"]
        assert _failed(cli) == []  # not yet: a refusal may be temporary
        cli_json(cli, "fetch", "--once")
        cli_json(cli, "fetch", "--once")
        (held,) = _failed(cli)
        assert held["remote_key"] == "pop3:u2"
        assert "could not read message" in held["rules"][0]["reason"]
        assert list(server.messages) == ["u2"]  # the others deleted, this one kept
        server.retrieved.clear()
        cli_json(cli, "fetch", "--once")
        assert server.retrieved == []


def test_a_pop3_server_that_drops_the_connection_on_one_message(cli: Cli) -> None:
    with ScriptedPop3(_three()) as server:
        server.drop_on_retr = {"u2"}
        _pop3_desk(cli, server)
        runs = [cli_json(cli, "fetch", "--once")[1][0] for _ in range(3)]
        assert runs[0]["ok"] is False and "connection was lost" in runs[0]["error"]
        assert runs[1]["ok"] is True  # reconnected and went on without it
        assert _subjects(cli) == ["First", "Third"]
        (held,) = _failed(cli)
        assert held["remote_key"] == "pop3:u2"
        assert list(server.messages) == ["u2"]


def test_an_email_the_parser_fails_on_is_held_failed_with_its_bytes(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parser bug (scripted here: real mail that crashes it is fixed as it is found) must
    hold that one email with its raw bytes, never stop the batch."""
    real = parse.parse_headers

    def crashing(raw: bytes) -> Any:
        if b"Poison" in raw:
            raise IndexError("list index out of range")
        return real(raw)

    monkeypatch.setattr(pipeline, "parse_headers", crashing)
    mails = _three()
    mails["u2"] = email_from("bob@example.org", "Poison")
    with ScriptedPop3(mails) as server:
        _pop3_desk(cli, server)
        run = cli_json(cli, "fetch", "--once")[1][0]
        assert run["ok"] is True and run["opened"] == 2 and run["held"] == 1
        assert _subjects(cli) == ["First", "Third"]
        (held,) = _failed(cli)
        assert "IndexError: list index out of range" in held["rules"][0]["reason"]
        assert next(m for m in _stored() if m.remote_key == "pop3:u2").raw == mails["u2"].replace(
            b"\n", b"\r\n"
        )
        assert server.messages == {}  # its bytes are kept: the server may delete it


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """This module's one database test runs on PostgreSQL only (postroom_env picks it up)."""
    yield postgres_url
    _truncate(storage_db.engine_for(storage_db.normalise_url(postgres_url)))


def test_a_database_error_on_one_row_holds_that_email_and_stores_the_rest(
    database_url: str, cli: Cli
) -> None:
    """A Message-ID longer than its column is refused by PostgreSQL: a real error of one row."""
    assert database_url.startswith("postgresql")
    mails = _three()
    long_id = f"<{'x' * 1200}@example.org>"
    mails["u2"] = email_from("bob@example.org", "Long id", message_id=long_id)
    with ScriptedPop3(mails) as server:
        _pop3_desk(cli, server)
        run = cli_json(cli, "fetch", "--once")[1][0]
        assert run["ok"] is True and run["opened"] == 2 and run["held"] == 1
        assert _subjects(cli) == ["First", "Third"]
        (held,) = _failed(cli)
        assert "DataError" in held["rules"][0]["reason"] or "too long" in str(held)
        assert next(m for m in _stored() if m.remote_key == "pop3:u2").raw == mails["u2"].replace(
            b"\n", b"\r\n"
        )
        assert server.messages == {}
