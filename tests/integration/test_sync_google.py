"""Google contacts (People API) and calendar events (Calendar API) through the real sync
sources against the local Google server: sync tokens and paging, deletions, expired tokens,
throttling, and writes guarded by the etag."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from postroom.domain.endpoints import Endpoint
from postroom.domain.settings import Protocol, Security
from postroom.sync.google import GoogleCalendar, GooglePeople, google_api
from postroom.sync.source import (
    Changes,
    ContactData,
    CursorExpired,
    EditConflict,
    EventData,
    RemoteRecord,
    SyncSource,
)
from tests.cloud_fixtures import GOOGLE_ID, sync_source
from tests.servers.gmail import GmailServer
from tests.servers.identity import IdentityServer

USER = "desk@example.com"
SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)


SCOPES = "contacts calendar"


@pytest.fixture
def people(
    gmail: GmailServer, identity: IdentityServer, trust_test_ca: None
) -> Iterator[GooglePeople]:
    token = identity.issue(USER, GOOGLE_ID, SCOPES)
    with sync_source(GooglePeople, Protocol.GMAIL, gmail, token, USER) as source:
        yield source


@pytest.fixture
def calendar(
    gmail: GmailServer, identity: IdentityServer, trust_test_ca: None
) -> Iterator[GoogleCalendar]:
    token = identity.issue(USER, GOOGLE_ID, SCOPES)
    with sync_source(GoogleCalendar, Protocol.GMAIL, gmail, token, USER) as source:
        yield source


def _person(n: int) -> dict[str, Any]:
    return {
        "names": [{"givenName": "Ann", "familyName": str(n)}],
        "emailAddresses": [{"value": f"ann{n}@example.org"}],
        "organizations": [{"name": "Initech"}],
        "phoneNumbers": [{"value": f"+1 555 01{n:02}"}],
    }


def _event(title: str, start: datetime) -> dict[str, Any]:
    return {
        "summary": title,
        "description": "Bring the printer.",
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
        "attendees": [{"email": "bob@example.org", "responseStatus": "needsAction"}],
    }


def _all(source: SyncSource, cursor: str | None) -> tuple[list[Changes], str | None]:
    pages = [source.changes(cursor)]
    while pages[-1].more:
        pages.append(source.changes(pages[-1].cursor))
    return pages, pages[-1].cursor


def _records(pages: list[Changes]) -> list[RemoteRecord]:
    return [r for page in pages for r in page.records]


def test_people_and_calendar_go_to_their_own_hosts_at_google_and_to_the_server_elsewhere(
    gmail: GmailServer,
) -> None:
    at_google = Endpoint(Protocol.GMAIL, "gmail.googleapis.com", 443, Security.TLS)
    assert google_api(at_google, "people.googleapis.com").host == "people.googleapis.com"
    local = Endpoint(Protocol.GMAIL, gmail.http.host, gmail.http.port, Security.TLS)
    assert google_api(local, "people.googleapis.com") == local


def test_a_full_contact_listing_pages_and_ends_with_a_sync_token(
    gmail: GmailServer, people: GooglePeople
) -> None:
    gmail.page_size = 2
    made = [gmail.add_person(USER, _person(n)) for n in range(5)]

    pages, cursor = _all(people, None)

    assert [len(p.records) for p in pages] == [2, 2, 1]
    assert all(p.full for p in pages)
    records = _records(pages)
    assert [r.remote_id for r in records] == made
    assert records[2].data == ContactData("ann2@example.org", "Ann 2", "Initech", "+1 555 0102")
    assert records[2].etag == gmail.record(USER, made[2]).etag  # type: ignore[union-attr]
    assert cursor is not None and "syncToken=" in cursor


def test_the_sync_token_brings_changed_and_deleted_people_only(
    gmail: GmailServer, people: GooglePeople
) -> None:
    _kept, changed, removed = (gmail.add_person(USER, _person(n)) for n in range(3))
    _, cursor = _all(people, None)
    gmail.change(USER, changed, organizations=[{"name": "Globex"}])
    gmail.remove(USER, removed)

    pages, after = _all(people, cursor)

    records = {r.remote_id: r.data for r in _records(pages)}
    assert records == {
        changed: ContactData("ann1@example.org", "Ann 1", "Globex", "+1 555 0101"),
        removed: None,
    }
    assert not pages[0].full
    assert _records(_all(people, after)[0]) == []


def test_an_expired_contacts_sync_token_raises_cursor_expired_then_all_are_listed(
    gmail: GmailServer, people: GooglePeople
) -> None:
    first = gmail.add_person(USER, _person(1))
    _, cursor = _all(people, None)
    second = gmail.add_person(USER, _person(2))
    gmail.expire_sync_tokens()

    with pytest.raises(CursorExpired):
        people.changes(cursor)
    pages, _ = _all(people, None)

    assert pages[0].full
    assert [r.remote_id for r in _records(pages)] == [first, second]


def test_a_throttled_listing_waits_for_retry_after_and_goes_on(
    gmail: GmailServer, people: GooglePeople
) -> None:
    made = gmail.add_person(USER, _person(1))
    gmail.throttle(2)  # each 429 says Retry-After: 1
    began = time.monotonic()

    pages, _ = _all(people, None)

    assert time.monotonic() - began >= 2.0
    assert [r.remote_id for r in _records(pages)] == [made]


def test_a_contact_made_updated_and_deleted_in_postroom_reaches_google(
    gmail: GmailServer, people: GooglePeople
) -> None:
    made = people.create(ContactData("carol@example.org", "Carol Reyes", "Acme", "+44 20 7946"))
    stored = gmail.record(USER, made.remote_id)
    assert stored is not None and made.remote_id.startswith("people/c")
    assert stored.fields["emailAddresses"] == [{"value": "carol@example.org"}]
    assert made.data == ContactData("carol@example.org", "Carol Reyes", "Acme", "+44 20 7946")

    updated = people.update(
        made.remote_id, made.etag, ContactData("carol@example.org", "Carol Reyes", "Globex")
    )
    assert updated.etag != made.etag
    assert updated.data == ContactData("carol@example.org", "Carol Reyes", "Globex")
    assert stored.fields["organizations"] == [{"name": "Globex"}]
    assert stored.fields["phoneNumbers"] == []  # updatePersonFields cleared what we left out

    people.delete(made.remote_id, updated.etag)
    assert gmail.live(USER, "people") == []
    people.delete(made.remote_id, updated.etag)  # already gone: nothing to do


def test_an_update_on_a_stale_etag_is_a_conflict_carrying_googles_version(
    gmail: GmailServer, people: GooglePeople
) -> None:
    made = people.create(ContactData("dan@example.org", "Dan", "Acme"))
    gmail.change(USER, made.remote_id, organizations=[{"name": "Changed in Google"}])

    with pytest.raises(EditConflict) as conflict:
        people.update(made.remote_id, made.etag, ContactData("dan@example.org", "Dan", "Ours"))

    current = conflict.value.current
    assert current.data == ContactData("dan@example.org", "Dan", "Changed in Google")
    assert current.etag == gmail.record(USER, made.remote_id).etag  # type: ignore[union-attr]
    assert gmail.record(USER, made.remote_id).fields["organizations"] == [  # type: ignore[union-attr]
        {"name": "Changed in Google"}
    ]


def test_the_calendar_lists_pages_then_follows_changes_and_cancellations(
    gmail: GmailServer, calendar: GoogleCalendar
) -> None:
    gmail.page_size = 2
    made = [gmail.add_event(USER, _event(f"Visit {n}", SOON)) for n in range(3)]
    made.append(gmail.add_event(USER, _event("Long ago", SOON - timedelta(days=800))))

    pages, cursor = _all(calendar, None)

    assert [len(p.records) for p in pages] == [2, 2]  # the whole calendar: what lacks is gone
    assert all(p.full for p in pages)
    records = _records(pages)
    assert [r.remote_id for r in records] == made
    assert records[0].data == EventData(
        "Visit 0", SOON, SOON + timedelta(hours=1), ("bob@example.org",), "Bring the printer."
    )

    gmail.change(USER, made[1], summary="Visit moved")
    gmail.remove(USER, made[2])
    changes = {r.remote_id: r.data for r in _records(_all(calendar, cursor)[0])}
    assert set(changes) == {made[1], made[2]}
    assert changes[made[2]] is None
    moved = changes[made[1]]
    assert isinstance(moved, EventData) and moved.title == "Visit moved"


def test_a_410_on_the_calendar_sync_token_raises_cursor_expired(
    gmail: GmailServer, calendar: GoogleCalendar
) -> None:
    gmail.add_event(USER, _event("Visit", SOON))
    _, cursor = _all(calendar, None)
    gmail.expire_sync_tokens()

    with pytest.raises(CursorExpired):
        calendar.changes(cursor)
    assert len(_records(_all(calendar, None)[0])) == 1


def test_an_activity_goes_to_the_calendar_with_its_link_and_conflicts_keep_googles_version(
    gmail: GmailServer, calendar: GoogleCalendar
) -> None:
    activity = EventData(
        title="Follow-up: printer on fire",
        start=SOON,
        end=SOON + timedelta(minutes=30),
        attendees=("ann@example.org", "bob@example.org"),
        body="Call Ann back.",
        link="https://postroom.example/requests/42",
    )
    made = calendar.create(activity)
    stored = gmail.record(USER, made.remote_id)
    assert stored is not None
    assert stored.fields["source"]["url"] == "https://postroom.example/requests/42"
    assert [a["email"] for a in stored.fields["attendees"]] == list(activity.attendees)
    assert made.data == activity

    moved = replace(activity, start=SOON + timedelta(hours=3), end=SOON + timedelta(hours=4))
    updated = calendar.update(made.remote_id, made.etag, moved)
    assert updated.data == moved

    gmail.change(USER, made.remote_id, summary="Renamed in Google")
    with pytest.raises(EditConflict) as conflict:
        calendar.update(made.remote_id, updated.etag, activity)
    current = conflict.value.current
    assert isinstance(current.data, EventData) and current.data.title == "Renamed in Google"
    with pytest.raises(EditConflict):
        calendar.delete(made.remote_id, updated.etag)

    calendar.delete(made.remote_id, current.etag)
    assert gmail.live(USER, "events") == []
    calendar.delete(made.remote_id, current.etag)  # already cancelled: nothing to do


def test_a_relative_link_back_rides_in_the_description_and_comes_back(
    gmail: GmailServer, calendar: GoogleCalendar
) -> None:
    activity = EventData(
        "Call back", SOON, SOON + timedelta(minutes=15), (), "Ring.", "/requests/7"
    )

    made = calendar.create(activity)

    stored = gmail.record(USER, made.remote_id)
    assert stored is not None and "source" not in stored.fields  # Google wants an absolute URL
    assert stored.fields["description"].endswith("Request: /requests/7")
    assert _records(_all(calendar, None)[0]) == [made]
