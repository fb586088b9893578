"""The outbox in the console: what was sent, what waits and why (a provider's limit shows as
"waiting for the provider's limit: next at HH:MM"). Users see their own mailboxes' email."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import page
from postroom.services import outbox, present
from postroom.web.render import render

router = APIRouter(include_in_schema=False)
PAGE = 50


@router.get("/outbox", response_class=HTMLResponse)
def outbox_page(
    request: Request, db: Db, caller: CallerDep, offset: Annotated[int, Query(ge=0)] = 0
) -> Response:
    rows = outbox.listing(db, None, PAGE + 1, actor=caller.actor, offset=offset)
    items = [present.outbox_item(i) for i in rows]
    return render(
        request,
        "outbox.html",
        caller,
        page=page(items, PAGE, offset, fetched_extra=True),
        base="/outbox?",
    )
