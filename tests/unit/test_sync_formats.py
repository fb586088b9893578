"""vCard and iCalendar as the DAV sources read and write them: an update keeps what postroom
does not model, other clients' shapes of an event are read right, broken objects are skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from postroom.sync import ical, vcard
from postroom.sync.source import ContactData, EventData

NINE = datetime(2026, 12, 3, 9, tzinfo=UTC)


def test_a_contact_update_keeps_the_fields_postroom_does_not_know() -> None:
    theirs = vcard.write(ContactData("ann@x.example", "Ann Lee", "Acme", "1"), "uid-1").replace(
        "END:VCARD", "NOTE:met at the fair\r\nADR:;;1 Main St;Town;;;\r\nEND:VCARD"
    )
    ours = vcard.write(ContactData("ann@x.example", "Ann Smith"), "ignored", theirs)
    assert vcard.read(ours) == ContactData("ann@x.example", "Ann Smith", "", "")
    assert "NOTE:met at the fair" in ours and "1 Main St" in ours and "UID:uid-1" in ours
    assert "N:Smith;Ann;;;" in ours


def test_a_contact_is_read_with_its_address_lowercased_and_a_broken_card_is_skipped() -> None:
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bo\r\nEMAIL:Bo@X.Example\r\nORG:Co;Dept\r\nEND:VCARD\r\n"
    )
    assert vcard.read(card) == ContactData("bo@x.example", "Bo", "Co", "")
    assert vcard.read("BEGIN:VCARD\r\nthis is not a card") is None


def test_events_of_other_clients_all_day_with_a_duration_or_zoned_are_read_in_utc() -> None:
    def event(lines: str) -> str:
        head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e\r\n"
        return f"{head}{lines}END:VEVENT\r\nEND:VCALENDAR\r\n"

    all_day = ical.read(event("SUMMARY:Fair\r\nDTSTART;VALUE=DATE:20261203\r\n"))
    assert all_day is not None and all_day.start == datetime(2026, 12, 3, tzinfo=UTC)
    lasting = ical.read(event("SUMMARY:Call\r\nDTSTART:20261203T090000Z\r\nDURATION:PT45M\r\n"))
    assert lasting is not None and lasting.end - lasting.start == timedelta(minutes=45)
    zoned = ical.read(
        event(
            "SUMMARY:Call\r\nDTSTART;TZID=Europe/Paris:20261203T100000\r\nDTEND;TZID=Europe/Paris:20261203T110000\r\n"
        )
    )
    assert zoned is not None and (zoned.start, zoned.end) == (NINE, NINE + timedelta(hours=1))
    assert ical.read(event("SUMMARY:no start\r\n")) is None
    assert ical.read("not a calendar") is None


def test_an_event_update_keeps_the_alarm_and_replaces_the_attendees() -> None:
    first = EventData("Call", NINE, NINE + timedelta(hours=1), ("a@x.example", "b@x.example"))
    theirs = ical.write(first, "uid-9").replace(
        "END:VEVENT",
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:soon\r\nEND:VALARM\r\nEND:VEVENT",
    )
    moved = EventData(
        "Call", NINE + timedelta(days=1), NINE + timedelta(days=1, hours=1), ("a@x.example",)
    )
    ours = ical.write(moved, "ignored", theirs)
    assert ical.read(ours) == moved
    assert "TRIGGER:-PT15M" in ours and "UID:uid-9" in ours and "b@x.example" not in ours
