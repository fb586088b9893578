"""Connection-test reports as a fragment that htmx puts in place beside the button."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.responses import Response

from postroom.api.deps import Caller
from postroom.api.network_calls import NetworkCalls
from postroom.connectors.test_connection import Report
from postroom.errors import PostroomError
from postroom.services import present
from postroom.web.render import render


async def report_page(
    request: Request,
    caller: Caller,
    calls: NetworkCalls,
    run: Callable[[], list[tuple[str, Report]]],
) -> Response:
    """Tests reach the network on a thread of their own, with no database connection held while
    they wait; they read and write the mailbox in short transactions of their own."""
    try:
        reports = await calls.run(caller.actor, run)
    except PostroomError as exc:
        return render(request, "report.html", caller, reports=[], failure=str(exc))
    return render(request, "report.html", caller, reports=present.reports(reports)["reports"])
