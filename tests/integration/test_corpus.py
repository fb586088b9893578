"""Real-world emails written by others (tests/data/corpus; sources and licences in its README),
each through the real pipeline on a database: every one ends as a request or held with a
reason, with the requester and subject its table (expected.json) names."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from postroom.connectors.base import RemoteMessage
from postroom.inbound.parse import parse_headers
from postroom.inbound.pipeline import ingest
from postroom.services import mailboxes, servers, workflows
from postroom.services.actors import OPERATOR
from postroom.services.mailboxes import MailboxSpec
from postroom.services.servers import ServerSpec
from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox, Message

CORPUS = Path(__file__).parents[1] / "data" / "corpus"
EXPECTED: dict[str, dict[str, str]] = json.loads((CORPUS / "expected.json").read_text("utf-8"))
VALID_ADDRESS = r"[^\s<>()\[\]\",;:\\@]+@[\w-]+(\.[\w-]+)*"


def _outcome(row: Message) -> str:
    if row.status == "routed" and row.request is not None:
        return "request"
    assert row.status == "held" and row.held_reason, (row.remote_key, row.status)
    return f"held: {row.held_reason}"


def test_the_table_names_every_corpus_email_and_there_are_at_least_60() -> None:
    files = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*.eml"))
    assert files == sorted(EXPECTED)
    assert len(files) >= 60


def test_every_corpus_email_ends_in_a_request_or_held_with_its_requester_and_subject(
    engine: Engine,
) -> None:
    with unit_of_work(engine) as db:
        servers.add(db, OPERATOR, ServerSpec("imap-main", "imap", host="imap.example.test"))
        workflows.add(db, OPERATOR, "Support", "New,Triage,Done")
        desk = MailboxSpec("desk@example.test", incoming="imap-main", system=True, password="pw")
        mailboxes.add(db, OPERATOR, replace(desk, workflow="Support"))
    fetched = [RemoteMessage(name, (CORPUS / name).read_bytes()) for name in sorted(EXPECTED)]
    with unit_of_work(engine) as db:
        mailbox = db.scalars(select(Mailbox)).one()
        result = ingest(db, mailbox, fetched, frozenset())
    assert result.duplicates == 0
    with unit_of_work(engine) as db:
        rows = {str(row.remote_key): row for row in db.scalars(select(Message))}
        seen = {
            key: {"requester": row.sender, "subject": row.subject, "outcome": _outcome(row)}
            for key, row in rows.items()
        }
        opened: dict[int, tuple[str, str]] = {}  # request -> (its requester, first sender)
        for row in sorted(rows.values(), key=lambda r: r.id):
            if row.request is not None:
                opened.setdefault(row.request.id, (row.request.requester, row.sender))
        stored_as_fetched = all(row.raw == (CORPUS / key).read_bytes() for key, row in rows.items())
    assert seen == EXPECTED
    assert stored_as_fetched  # junk lines skipped for reading, never cut from the stored bytes
    assert all(requester == sender for requester, sender in opened.values())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_corpus_requester_is_a_valid_address_or_none(name: str) -> None:
    sender = parse_headers((CORPUS / name).read_bytes()).sender
    assert sender == "" or re.fullmatch(VALID_ADDRESS, sender)
