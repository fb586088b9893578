"""Connection-test reports as a fragment that htmx puts in place beside the button."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from postroom.api.deps import Caller
from postroom.connectors.test_connection import Report
from postroom.services import present
from postroom.web.render import attempt, render


def report_page(
    request: Request, caller: Caller, run: Callable[[Any], list[tuple[str, Report]]]
) -> Response:
    """Tests write the mailbox's state, so they run in their own transaction like a form."""
    done = attempt(run)
    if not done.ok or done.value is None:
        return render(request, "report.html", caller, reports=[], failure=done.errors["_form"])
    return render(request, "report.html", caller, reports=present.reports(done.value)["reports"])
