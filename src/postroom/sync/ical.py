"""An activity as an iCalendar VEVENT (RFC 5545). An update changes only the fields postroom
knows and keeps the rest of the account's event (alarms, recurrence, the organizer)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import icalendar

from postroom.sync.source import EventData

CONTENT_TYPE = "text/calendar; charset=utf-8"
FIELDS = ("summary", "dtstart", "dtend", "duration", "description", "url", "attendee")


def write(data: EventData, uid: str, base: str | None = None) -> str:
    if base:
        calendar = icalendar.Calendar.from_ical(base)
        event = _event(calendar)
        if event is None:
            raise ValueError("the account's calendar object holds no event")
        for name in FIELDS:
            event.pop(name, None)
    else:
        calendar = icalendar.Calendar()
        calendar.add("prodid", "-//postroom//activities//EN")
        calendar.add("version", "2.0")
        event = icalendar.Event()
        event.add("uid", uid)
        event.add("dtstamp", datetime.now(UTC))
        calendar.add_component(event)
    event.add("summary", data.title)
    event.add("dtstart", data.start.astimezone(UTC))
    event.add("dtend", data.end.astimezone(UTC))
    if data.body:
        event.add("description", data.body)
    if data.link:
        event.add("url", data.link)
    for address in data.attendees:
        event.add("attendee", f"mailto:{address}")
    text: bytes = calendar.to_ical()
    return text.decode()


def read(text: str) -> EventData | None:
    """None when the object holds no event with a start (a task, a broken object)."""
    try:
        event = _event(icalendar.Calendar.from_ical(text))
    except Exception:  # an object another client broke: skipped, never fatal to the sync
        return None
    if event is None or event.get("dtstart") is None:
        return None
    start = _moment(event.decoded("dtstart"))
    if event.get("dtend") is not None:
        end = _moment(event.decoded("dtend"))
    elif event.get("duration") is not None:
        end = start + event.decoded("duration")
    else:
        end = start + timedelta(hours=1)
    attendees = event.get("attendee") or []
    if not isinstance(attendees, list):
        attendees = [attendees]
    return EventData(
        title=str(event.get("summary", "")),
        start=start,
        end=end,
        attendees=tuple(str(a).removeprefix("mailto:").removeprefix("MAILTO:") for a in attendees),
        body=str(event.get("description", "")),
        link=str(event.get("url", "")),
    )


def _event(calendar: icalendar.Calendar) -> icalendar.Event | None:
    for component in calendar.walk("VEVENT"):
        if isinstance(component, icalendar.Event):
            return component
    return None


def _moment(value: datetime | date) -> datetime:
    """All-day events start at midnight UTC; floating times are read as UTC."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(), UTC)
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
