"""Activities (follow-ups, meetings) in the caller's mailboxes' calendars, synced both ways."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import Id, Limit, Offset, page
from postroom.api.schemas import ActivityIn, ActivityPatch
from postroom.services import activities, sync_records
from postroom.services.activities import ActivityChange, ActivitySpec

router = APIRouter(prefix="/activities", tags=["activities"])


@router.get("")
def list_activities(
    db: Db,
    caller: CallerDep,
    mailbox: Annotated[str | None, Query(max_length=320)] = None,
    request: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    rows = activities.listing(db, caller.actor, mailbox, request)
    return page([sync_records.view(a) for a in rows], limit, offset, fetched_extra=False)


@router.get("/{activity_id}")
def show_activity(activity_id: Id, db: Db, caller: CallerDep) -> Any:
    return sync_records.detail(db, activities.get(db, caller.actor, activity_id))


@router.post("", status_code=201)
def add_activity(body: ActivityIn, db: Db, caller: CallerDep) -> Any:
    """Saved at once and marked pending; the next sync writes it to the calendar."""
    spec = ActivitySpec(body.title, body.start, body.end, body.request, body.attendees, body.body)
    return sync_records.detail(db, activities.add(db, caller.actor, body.mailbox, spec))


@router.patch("/{activity_id}")
def edit_activity(activity_id: Id, body: ActivityPatch, db: Db, caller: CallerDep) -> Any:
    change = ActivityChange(**body.model_dump(exclude_unset=True))
    return sync_records.detail(db, activities.edit(db, caller.actor, activity_id, change))


@router.delete("/{activity_id}", status_code=204)
def remove_activity(activity_id: Id, db: Db, caller: CallerDep) -> Response:
    """Hidden at once; the next sync deletes it on the account, unless the account changed
    it meanwhile (then the account's version comes back, and the deletion is in its history)."""
    activities.remove(db, caller.actor, activity_id)
    return Response(status_code=204)
