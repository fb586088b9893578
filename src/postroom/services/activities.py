"""Activities: follow-ups and meetings in a mailbox owner's calendar, most made from a request
(its requester invited, a link back to it). Synced both ways like contacts: a change made here
is marked pending with the change, and the sync pass writes it to the account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from postroom.config import get_settings
from postroom.domain import validate
from postroom.errors import InvalidInput, NotFound
from postroom.services import mailboxes, requests, sync_records
from postroom.services.actors import Actor
from postroom.services.contacts import require_sync
from postroom.storage.models import Activity

LIMIT = 1000
LONGEST = timedelta(days=31)


@dataclass
class ActivitySpec:
    title: str
    start: str | datetime
    end: str | datetime
    request_id: int | None = None
    attendees: list[str] | None = None  # None: the request's requester
    body: str = ""


@dataclass
class ActivityChange:
    title: str | None = None
    start: str | datetime | None = None
    end: str | datetime | None = None
    attendees: list[str] | None = None
    body: str | None = None


def listing(
    db: Session, actor: Actor, mailbox: str | None = None, request_id: int | None = None
) -> list[Activity]:
    ids = select(mailboxes.visible_to(actor).subquery().c.id)
    query = select(Activity).where(Activity.mailbox_id.in_(ids), Activity.deleting.is_(False))
    if mailbox is not None:
        query = query.where(Activity.mailbox_id == mailboxes.get_for(db, actor, mailbox).id)
    if request_id is not None:
        query = query.where(Activity.request_id == request_id)
    return list(db.scalars(query.order_by(Activity.starts_at, Activity.id).limit(LIMIT)))


def get(db: Session, actor: Actor, activity_id: int) -> Activity:
    ids = select(mailboxes.visible_to(actor).subquery().c.id)
    activity = db.scalar(
        select(Activity).where(
            Activity.id == activity_id, Activity.mailbox_id.in_(ids), Activity.deleting.is_(False)
        )
    )
    if activity is None:
        raise NotFound(f"No activity {activity_id} among your mailboxes: `postroom activity list`.")
    return activity


def add(db: Session, actor: Actor, address: str, spec: ActivitySpec) -> Activity:
    mailbox = mailboxes.get_for(db, actor, address)
    require_sync(mailbox, "calendar")
    start, end = _span(spec.start, spec.end)
    link, attendees = "", list(spec.attendees or [])
    if spec.request_id is not None:
        request = requests.get(db, spec.request_id, actor)  # NotFound when not theirs
        link = _request_link(request.id)
        if spec.attendees is None and request.requester:
            attendees = [request.requester]
    activity = Activity(
        mailbox_id=mailbox.id,
        request_id=spec.request_id,
        title=_title(spec.title),
        starts_at=start,
        ends_at=end,
        attendees=[validate.address(a, "attendees") for a in attendees],
        body=spec.body.strip(),
        link=link,
        pending=True,
    )
    db.add(activity)
    sync_records.changed_here(db, actor, activity, "added", activity.title, mailbox=mailbox.address)
    return activity


def edit(db: Session, actor: Actor, activity_id: int, change: ActivityChange) -> Activity:
    activity = get(db, actor, activity_id)
    if change.title is not None:
        activity.title = _title(change.title)
    if change.start is not None or change.end is not None:
        activity.starts_at, activity.ends_at = _span(
            change.start if change.start is not None else activity.starts_at,
            change.end if change.end is not None else activity.ends_at,
        )
    if change.attendees is not None:
        activity.attendees = [validate.address(a, "attendees") for a in change.attendees]
    if change.body is not None:
        activity.body = change.body.strip()
    sync_records.changed_here(db, actor, activity, "edited", activity.title)
    return activity


def remove(db: Session, actor: Actor, activity_id: int) -> None:
    """Hidden at once, deleted in the calendar by the next sync (see contacts.remove)."""
    activity = get(db, actor, activity_id)
    sync_records.changed_here(db, actor, activity, "removed", activity.title)


def _request_link(request_id: int) -> str:
    base = (get_settings().public_url or "").rstrip("/")
    return f"{base}/requests/{request_id}" if base else f"/requests/{request_id}"


def _title(value: str) -> str:
    value = value.strip()
    if not value or len(value) > 500:
        raise InvalidInput("Give the activity a title of at most 500 characters.", field="title")
    return value


def _moment(value: str | datetime, field: str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(
                f"The {field} {value!r} is not an ISO 8601 time: e.g. 2026-12-03T09:00+01:00.",
                field=field,
            ) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _span(start: str | datetime, end: str | datetime) -> tuple[datetime, datetime]:
    first, last = _moment(start, "start"), _moment(end, "end")
    if last <= first:
        raise InvalidInput("The end must come after the start.", field="end")
    if last - first > LONGEST:
        raise InvalidInput("An activity lasts at most 31 days.", field="end")
    return first, last
