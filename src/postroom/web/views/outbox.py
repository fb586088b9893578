"""The outbox in the console: what was sent, to whom and with what answer, what waits and why
(a provider's limit shows as "waiting for the provider's limit: next at HH:MM"), narrowed by
state, mailbox, connection, recipient and day; retry and cancel call the same services as the
API and the CLI. Users see their own mailboxes' email."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from postroom.api.deps import Caller, CallerDep, Db
from postroom.api.pages import Id, page
from postroom.domain.outbox import shown_state
from postroom.errors import InvalidInput
from postroom.services import connections, mailboxes, outbox
from postroom.web.render import attempt, field_errors, render

router = APIRouter(include_in_schema=False)
PAGE = 50
FILTERS = tuple(outbox.Filter.__dataclass_fields__)


def _day(value: str, what: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidInput(f"The {what} date {value!r} is not a day.", field=what) from None


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    """The row as the API gives it, with its state as a person reads it ("deferred")."""
    answers = [(r["status"], r["code"]) for r in row["recipients"]]
    return row | {"shown": shown_state(row["state"], answers)}


def _page(
    request: Request, db: Session, caller: Caller, offset: int, status: int = 200, **extra: Any
) -> Response:
    asked = {k: request.query_params.get(k, "")[:320] for k in FILTERS}
    try:
        narrowed = outbox.Filter(
            **{k: v or None for k, v in asked.items() if k not in ("since", "until")},
            since=_day(asked["since"], "since"),
            until=_day(asked["until"], "until"),
        )
        rows = outbox.listing(
            db, None, PAGE + 1, actor=caller.actor, offset=offset, narrowed=narrowed
        )
    except InvalidInput as exc:
        rows, status = [], 422
        extra = extra | {"errors": field_errors(exc, FILTERS)}
    addresses = sorted(
        {m.address for m in mailboxes.listing(db, caller.actor) if m.outgoing_server}
    )
    named = [c.name for c in connections.listing(db)] if caller.actor.is_admin else []
    query = urlencode({k: v for k, v in asked.items() if v})
    context = {
        "page": page([_shown(i) for i in rows], PAGE, offset, fetched_extra=True),
        "base": f"/outbox?{query}&" if query else "/outbox?",
        "query": query,
        "values": asked,
        "states": outbox.STATES,
        "addresses": addresses,
        "connections": named,
    }
    return render(request, "outbox.html", caller, status=status, **(context | extra))


@router.get("/outbox", response_class=HTMLResponse)
def outbox_page(
    request: Request, db: Db, caller: CallerDep, offset: Annotated[int, Query(ge=0)] = 0
) -> Response:
    return _page(request, db, caller, offset)


def _act(request: Request, db: Session, caller: Caller, notice: str, action: Any) -> Response:
    """Back to the same filtered list; a refusal (already sent, taken by a sender) is shown
    above it, never as a notice."""
    done = attempt(action)
    if not done.ok:
        return _page(request, db, caller, 0, status=409, errors=done.errors)
    asked = [(k, v) for k, v in request.query_params.items() if k in FILTERS and v]
    return RedirectResponse("/outbox?" + urlencode([*asked, ("notice", notice)]), status_code=303)


@router.post("/outbox/{item_id}/retry", response_class=HTMLResponse)
def retry_item(request: Request, item_id: Id, db: Db, caller: CallerDep) -> Response:
    return _act(
        request, db, caller, "outbox-retried", lambda tx: outbox.retry(tx, caller.actor, item_id)
    )


@router.post("/outbox/{item_id}/cancel", response_class=HTMLResponse)
def cancel_item(request: Request, item_id: Id, db: Db, caller: CallerDep) -> Response:
    return _act(
        request, db, caller, "outbox-cancelled", lambda tx: outbox.cancel(tx, caller.actor, item_id)
    )
