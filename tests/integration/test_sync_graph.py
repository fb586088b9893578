"""Microsoft Graph contacts and calendar events through the real sync sources against the local
Graph server: delta rounds and their paging, removals, an expired delta link, throttling,
and writes guarded by the changeKey."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from postroom.domain.settings import Protocol
from postroom.sync.graph import GraphContacts, GraphEvents
from postroom.sync.source import (
    Changes,
    ContactData,
    CursorExpired,
    EditConflict,
    EventData,
    RemoteRecord,
    SyncSource,
)
from tests.cloud_fixtures import CLIENT_ID, sync_source
from tests.servers.graph import GraphServer
from tests.servers.identity import IdentityServer

USER = "desk@contoso.example"
SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)


SCOPES = "Contacts.ReadWrite Calendars.ReadWrite"


@pytest.fixture
def contacts(
    graph: GraphServer, identity: IdentityServer, trust_test_ca: None
) -> Iterator[GraphContacts]:
    token = identity.issue(USER, CLIENT_ID, SCOPES)
    with sync_source(GraphContacts, Protocol.GRAPH, graph, token, USER) as source:
        yield source


@pytest.fixture
def events(
    graph: GraphServer, identity: IdentityServer, trust_test_ca: None
) -> Iterator[GraphEvents]:
    token = identity.issue(USER, CLIENT_ID, SCOPES)
    with sync_source(GraphEvents, Protocol.GRAPH, graph, token, USER) as source:
        yield source


def _contact(n: int) -> dict[str, object]:
    return {
        "displayName": f"Ann {n}",
        "emailAddresses": [{"address": f"ann{n}@example.org", "name": f"Ann {n}"}],
        "companyName": "Initech",
        "businessPhones": [f"+1 555 01{n:02}"],
    }


def _event(title: str, start: datetime, hours: int = 1) -> dict[str, object]:
    def when(moment: datetime) -> dict[str, str]:
        return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}

    return {
        "subject": title,
        "body": {"contentType": "text", "content": "Bring the printer."},
        "start": when(start),
        "end": when(start + timedelta(hours=hours)),
        "attendees": [{"emailAddress": {"address": "bob@example.org"}, "type": "required"}],
    }


def _all(source: SyncSource, cursor: str | None) -> tuple[list[Changes], str | None]:
    """Pages until the round ends; returns them and the cursor for the next round."""
    pages = [source.changes(cursor)]
    while pages[-1].more:
        pages.append(source.changes(pages[-1].cursor))
    return pages, pages[-1].cursor


def _records(pages: list[Changes]) -> list[RemoteRecord]:
    return [r for page in pages for r in page.records]


def test_a_full_contact_listing_follows_next_links_and_ends_with_the_delta_link(
    graph: GraphServer, contacts: GraphContacts
) -> None:
    graph.page_size = 2
    made = [graph.add_item(USER, "contacts", _contact(n)) for n in range(5)]

    pages, cursor = _all(contacts, None)

    assert [len(p.records) for p in pages] == [2, 2, 1]
    assert all(p.full for p in pages)
    assert cursor is not None and "$deltatoken=" in cursor
    records = _records(pages)
    assert [r.remote_id for r in records] == made
    assert records[3].data == ContactData("ann3@example.org", "Ann 3", "Initech", "+1 555 0103")
    assert records[3].etag == graph.item(USER, "contacts", made[3])["changeKey"]  # type: ignore[index]


def test_the_next_round_brings_only_changes_and_removals_since_the_delta_link(
    graph: GraphServer, contacts: GraphContacts
) -> None:
    kept, changed, removed = (graph.add_item(USER, "contacts", _contact(n)) for n in range(3))
    _, cursor = _all(contacts, None)
    graph.change_item(USER, "contacts", changed, companyName="Globex")
    graph.remove_item(USER, "contacts", removed)
    added = graph.add_item(USER, "contacts", _contact(7))

    pages, after = _all(contacts, cursor)

    records = {r.remote_id: r for r in _records(pages)}
    assert set(records) == {changed, removed, added}
    assert kept not in records
    assert not any(p.full for p in pages)
    assert records[changed].data == ContactData(
        "ann1@example.org", "Ann 1", "Globex", "+1 555 0101"
    )
    assert records[removed].data is None
    assert _records(_all(contacts, after)[0]) == []  # nothing happened since


def test_an_expired_delta_link_raises_cursor_expired_and_a_full_listing_follows(
    graph: GraphServer, contacts: GraphContacts
) -> None:
    first = graph.add_item(USER, "contacts", _contact(1))
    _, cursor = _all(contacts, None)
    second = graph.add_item(USER, "contacts", _contact(2))
    graph.forget_delta_links()

    with pytest.raises(CursorExpired):
        contacts.changes(cursor)
    pages, _ = _all(contacts, None)

    assert pages[0].full
    assert {r.remote_id for r in _records(pages)} == {first, second}


def test_throttled_delta_calls_wait_as_long_as_retry_after_says(
    graph: GraphServer, contacts: GraphContacts
) -> None:
    made = graph.add_item(USER, "contacts", _contact(1))
    graph.throttle(1, 429, "1")
    graph.calls.clear()

    pages, _ = _all(contacts, None)

    assert [r.remote_id for r in _records(pages)] == [made]
    (refused, *_), (answered, *_) = graph.calls[0], graph.calls[1]
    assert answered - refused >= 1.0


def test_a_contact_made_updated_and_deleted_in_postroom_reaches_the_account(
    graph: GraphServer, contacts: GraphContacts
) -> None:
    made = contacts.create(ContactData("carol@example.org", "Carol Reyes", "Acme", "+44 20 7946"))
    stored = graph.item(USER, "contacts", made.remote_id)
    assert stored is not None
    assert (stored["givenName"], stored["surname"]) == ("Carol", "Reyes")
    assert stored["emailAddresses"][0]["address"] == "carol@example.org"
    assert made.etag == stored["changeKey"]

    updated = contacts.update(
        made.remote_id, made.etag, ContactData("carol@example.org", "Carol Reyes", "Globex")
    )
    assert updated.etag != made.etag
    assert graph.item(USER, "contacts", made.remote_id)["companyName"] == "Globex"  # type: ignore[index]

    contacts.delete(made.remote_id, updated.etag)
    assert graph.item(USER, "contacts", made.remote_id) is None
    contacts.delete(made.remote_id, updated.etag)  # already gone: nothing to do


def test_an_update_on_a_stale_change_key_is_a_conflict_carrying_the_account_version(
    graph: GraphServer, contacts: GraphContacts
) -> None:
    made = contacts.create(ContactData("dan@example.org", "Dan", "Acme"))
    graph.change_item(USER, "contacts", made.remote_id, companyName="Changed in Outlook")

    with pytest.raises(EditConflict) as conflict:
        contacts.update(made.remote_id, made.etag, ContactData("dan@example.org", "Dan", "Ours"))

    current = conflict.value.current
    assert isinstance(current.data, ContactData)
    assert current.data.company == "Changed in Outlook"
    assert current.etag == graph.item(USER, "contacts", made.remote_id)["changeKey"]  # type: ignore[index]
    assert graph.item(USER, "contacts", made.remote_id)["companyName"] == "Changed in Outlook"  # type: ignore[index]
    with pytest.raises(EditConflict):  # a delete on a stale version must not lose the edit
        contacts.delete(made.remote_id, made.etag)
    assert graph.item(USER, "contacts", made.remote_id) is not None


def test_an_update_of_a_contact_deleted_in_outlook_is_a_conflict_with_no_version(
    graph: GraphServer, contacts: GraphContacts
) -> None:
    made = contacts.create(ContactData("erin@example.org", "Erin"))
    graph.remove_item(USER, "contacts", made.remote_id)

    with pytest.raises(EditConflict) as conflict:
        contacts.update(made.remote_id, made.etag, ContactData("erin@example.org", "Erin B"))

    assert conflict.value.current == RemoteRecord(made.remote_id, "", None)


def test_the_calendar_view_delta_lists_the_window_pages_and_follows_changes(
    graph: GraphServer, events: GraphEvents
) -> None:
    graph.page_size = 2
    inside = [graph.add_item(USER, "events", _event(f"Visit {n}", SOON)) for n in range(3)]
    graph.add_item(USER, "events", _event("Long ago", SOON - timedelta(days=400)))

    pages, cursor = _all(events, None)

    assert len(pages) == 2
    records = _records(pages)
    assert [r.remote_id for r in records] == inside
    assert records[0].data == EventData(
        title="Visit 0",
        start=SOON,
        end=SOON + timedelta(hours=1),
        attendees=("bob@example.org",),
        body="Bring the printer.",
    )
    start, end = (graph.calls[0][3][k] for k in ("startDateTime", "endDateTime"))
    assert start < SOON.strftime("%Y-%m-%d") < end

    graph.change_item(USER, "events", inside[1], subject="Visit moved")
    graph.remove_item(USER, "events", inside[2])
    changes = {r.remote_id: r.data for r in _records(_all(events, cursor)[0])}
    assert set(changes) == {inside[1], inside[2]}
    assert changes[inside[2]] is None
    moved = changes[inside[1]]
    assert isinstance(moved, EventData)
    assert moved.title == "Visit moved"


def test_an_expired_calendar_delta_link_raises_cursor_expired(
    graph: GraphServer, events: GraphEvents
) -> None:
    graph.add_item(USER, "events", _event("Visit", SOON))
    _, cursor = _all(events, None)
    graph.forget_delta_links()

    with pytest.raises(CursorExpired):
        events.changes(cursor)


def test_a_calendar_window_opened_over_a_month_ago_is_listed_again(
    graph: GraphServer, events: GraphEvents
) -> None:
    graph.add_item(USER, "events", _event("Visit", SOON))
    _, cursor = _all(events, None)
    assert cursor is not None
    opened = datetime.now(UTC).date()
    old = (opened - timedelta(days=31)).isoformat()
    assert _all(events, cursor)[0][0].records == []  # a fresh window is followed

    with pytest.raises(CursorExpired):
        events.changes(cursor.replace(f"window={opened.isoformat()}", f"window={old}"))


def test_an_activity_goes_to_the_calendar_with_attendees_and_the_link_back_and_returns(
    graph: GraphServer, events: GraphEvents
) -> None:
    activity = EventData(
        title="Follow-up: printer on fire",
        start=SOON,
        end=SOON + timedelta(minutes=30),
        attendees=("ann@example.org", "bob@example.org"),
        body="Call Ann back.",
        link="https://postroom.example/requests/42",
    )
    made = events.create(activity)
    stored = graph.item(USER, "events", made.remote_id)
    assert stored is not None
    assert [a["emailAddress"]["address"] for a in stored["attendees"]] == list(activity.attendees)
    assert "https://postroom.example/requests/42" in stored["body"]["content"]
    assert made.data == activity

    moved = replace(activity, start=SOON + timedelta(hours=3), end=SOON + timedelta(hours=4))
    updated = events.update(made.remote_id, made.etag, moved)
    assert updated.data == moved
    assert graph.item(USER, "events", made.remote_id)["start"]["dateTime"].startswith(  # type: ignore[index]
        (SOON + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S")
    )

    with pytest.raises(EditConflict) as conflict:
        events.update(made.remote_id, made.etag, activity)  # based on the first version
    assert conflict.value.current.etag == updated.etag

    events.delete(made.remote_id, updated.etag)
    assert graph.item(USER, "events", made.remote_id) is None
