"""Connection-test reports as a fragment that htmx puts in place beside the button."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from postroom.api.deps import Caller
from postroom.api.network_calls import NetworkCalls
from postroom.connectors.test_connection import Report
from postroom.errors import PostroomError
from postroom.services import mailboxes, present
from postroom.storage.db import unit_of_work
from postroom.web.render import render


async def report_page(
    request: Request,
    caller: Caller,
    calls: NetworkCalls,
    run: Callable[[], list[tuple[str, Report]]],
    mailbox: tuple[str, str | None] | None = None,
) -> Response:
    """Tests reach the network on a thread of their own, with no database connection held while
    they wait; they read and write the mailbox in short transactions of their own. With
    `mailbox` (address, owner), its health cell comes along, read after the test's commit."""
    try:
        reports = await calls.run(caller.actor, run)
    except PostroomError as exc:
        failure: str | None = str(exc)
        reports = []
    else:
        failure = None
    health = await run_in_threadpool(_health, caller, mailbox) if mailbox else []
    return render(
        request,
        "report.html",
        caller,
        reports=present.reports(reports)["reports"] if reports else [],
        failure=failure,
        health=health,
    )


def _health(caller: Caller, mailbox: tuple[str, str | None]) -> list[dict[str, Any]]:
    address, owner = mailbox
    try:
        with unit_of_work() as db:
            return [present.mailbox(mailboxes.get_for(db, caller.actor, address, owner))]
    except PostroomError:
        return []
