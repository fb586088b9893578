"""Connection-test reports as a fragment that htmx puts in place beside the button."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from postroom.api.deps import Caller
from postroom.connectors.test_connection import Report
from postroom.errors import PostroomError
from postroom.services import mailboxes, present
from postroom.storage.db import unit_of_work
from postroom.web.render import attempt, render


def report_page(
    request: Request,
    caller: Caller,
    run: Callable[[Any], list[tuple[str, Report]]],
    mailbox: tuple[str, str | None] | None = None,
) -> Response:
    """Tests write the mailbox's state, so they run in their own transaction like a form.
    With `mailbox` (address, owner), its health cell comes along, read after the commit."""
    done = attempt(run)
    health = _health(caller, mailbox) if mailbox else []
    if not done.ok or done.value is None:
        return render(
            request, "report.html", caller, reports=[], failure=done.errors["_form"], health=health
        )
    reports = present.reports(done.value)["reports"]
    return render(request, "report.html", caller, reports=reports, health=health)


def _health(caller: Caller, mailbox: tuple[str, str | None]) -> list[dict[str, Any]]:
    address, owner = mailbox
    try:
        with unit_of_work() as db:
            return [present.mailbox(mailboxes.get_for(db, caller.actor, address, owner))]
    except PostroomError:
        return []
