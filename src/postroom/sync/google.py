"""Google contacts (People API) and calendar events (Calendar API) as sync sources (see
source.py for the contract).

Both list with page tokens and end a listing with a sync token, the cursor of the next run; an
expired sync token (People: EXPIRED_SYNC_TOKEN, Calendar: 410 fullSyncRequired) means a full
listing. A person's or event's etag is its version: a write based on an older one is refused
(People: 400 FAILED_PRECONDITION, Calendar: 412) and becomes an EditConflict.

The mailbox's server is the Gmail API's; People and Calendar live on their own hosts at
Google, and on the server's own host anywhere else (a proxy, the local test servers).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx

from postroom.domain.endpoints import Credentials, Endpoint
from postroom.sync.cloud_client import SyncApiClient
from postroom.sync.links import join_link, split_link
from postroom.sync.scopes import GOOGLE as SCOPES
from postroom.sync.source import (
    Changes,
    ContactData,
    CursorExpired,
    EditConflict,
    EventData,
    RecordData,
    RecordKind,
    RemoteRecord,
)

PAGE_SIZE = 100
GOOGLE = ".googleapis.com"
PERSON_FIELDS = "names,emailAddresses,organizations,phoneNumbers,metadata"
WRITTEN_FIELDS = "names,emailAddresses,organizations,phoneNumbers"
EVENTS = "/calendar/v3/calendars/primary/events"
GONE, PRECONDITION_FAILED, NOT_FOUND, BAD_REQUEST = 410, 412, 404, 400


def google_api(endpoint: Endpoint, host: str) -> Endpoint:
    """Google's API host for People or Calendar when the mailbox's server is Google's own."""
    return replace(endpoint, host=host) if endpoint.host.endswith(GOOGLE) else endpoint


def _cursor(**parts: str) -> str:
    """Our cursor: the page token and sync token to send next, and whether a full listing
    is under way (opaque to the caller, a query string here)."""
    return urlencode({k: v for k, v in parts.items() if v})


def _error_reasons(response: httpx.Response) -> set[str]:
    """Google's reasons: `status`, `errors[].reason` and google.rpc.ErrorInfo `details`."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return set()
    reasons = {str(error.get("status", ""))}
    reasons |= {str(e.get("reason", "")) for e in error.get("errors") or []}
    reasons |= {str(d.get("reason", "")) for d in error.get("details") or []}
    return reasons - {""}


class GooglePeople:
    kind: RecordKind = "contact"

    def __init__(self, endpoint: Endpoint, credentials: Credentials) -> None:
        self.api = SyncApiClient(
            google_api(endpoint, "people.googleapis.com"),
            credentials,
            "Google People",
            SCOPES["contact"],
        )

    def changes(self, cursor: str | None) -> Changes:
        state = dict(parse_qsl(cursor or "full=1"))
        full = "full" in state
        params = {
            "personFields": PERSON_FIELDS,
            "pageSize": str(PAGE_SIZE),
            "requestSyncToken": "true",
        }
        params |= {k: state[k] for k in ("syncToken", "pageToken") if k in state}
        response = self.api.request(
            "GET", "/v1/people/me/connections", params=params, allow=(GONE, BAD_REQUEST)
        )
        if response.status_code == GONE or "EXPIRED_SYNC_TOKEN" in _error_reasons(response):
            raise CursorExpired("Google no longer knows the contacts sync token; listing all.")
        if response.status_code == BAD_REQUEST:
            raise self.api.refusal("GET", response)
        page = response.json()
        records = [_person(p) for p in page.get("connections", [])]
        if page.get("nextPageToken"):
            following = _cursor(
                pageToken=page["nextPageToken"],
                syncToken=state.get("syncToken", ""),
                full="1" if full else "",
            )
            return Changes(records, following, more=True, full=full)
        return Changes(
            records, _cursor(syncToken=page.get("nextSyncToken", "")), more=False, full=full
        )

    def current(self, remote_id: str) -> RemoteRecord:
        response = self.api.request(
            "GET",
            f"/v1/{remote_id}",
            params={"personFields": PERSON_FIELDS},
            allow=(NOT_FOUND,),
        )
        if response.status_code == NOT_FOUND:
            return RemoteRecord(remote_id, "", None)
        return _person(response.json())

    def create(self, data: RecordData) -> RemoteRecord:
        made = self.api.request(
            "POST",
            "/v1/people:createContact",
            params={"personFields": PERSON_FIELDS},
            json=_person_body(data),
        )
        return _person(made.json())

    def update(self, remote_id: str, etag: str, data: RecordData) -> RemoteRecord:
        response = self.api.request(
            "PATCH",
            f"/v1/{remote_id}:updateContact",
            params={"updatePersonFields": WRITTEN_FIELDS, "personFields": PERSON_FIELDS},
            json=_person_body(data) | {"etag": etag},
            allow=(BAD_REQUEST, NOT_FOUND),
        )
        if response.status_code == NOT_FOUND or "FAILED_PRECONDITION" in _error_reasons(response):
            raise EditConflict(
                "The contact was changed in Google since it was read; the account's version "
                "is kept and this edit goes to the history.",
                self.current(remote_id),
            )
        if response.status_code == BAD_REQUEST:
            raise self.api.refusal("PATCH", response)
        return _person(response.json())

    def delete(self, remote_id: str, etag: str) -> None:
        """deleteContact takes no etag, so the version is compared first (a change made in the
        instant between the two is the one a person could still lose); a contact already gone
        is what was asked."""
        current = self.current(remote_id)
        if current.data is None:
            return
        if etag and current.etag != etag:
            raise EditConflict("The contact was changed in Google since it was read.", current)
        self.api.request("DELETE", f"/v1/{remote_id}:deleteContact", allow=(NOT_FOUND,))

    def close(self) -> None:
        self.api.close()


def _person(person: dict[str, Any]) -> RemoteRecord:
    remote_id, etag = str(person["resourceName"]), str(person.get("etag", ""))
    if (person.get("metadata") or {}).get("deleted"):
        return RemoteRecord(remote_id, etag, None)

    def first(field: str, key: str) -> str:
        return str(((person.get(field) or [{}])[0]).get(key) or "")

    return RemoteRecord(
        remote_id,
        etag,
        ContactData(
            email=first("emailAddresses", "value"),
            name=first("names", "displayName") or first("names", "unstructuredName"),
            company=first("organizations", "name"),
            phone=first("phoneNumbers", "value"),
        ),
    )


def _person_body(data: RecordData) -> dict[str, Any]:
    assert isinstance(data, ContactData)
    given, _, family = data.name.partition(" ")
    return {
        "names": [{"unstructuredName": data.name, "givenName": given, "familyName": family}]
        if data.name
        else [],
        "emailAddresses": [{"value": data.email}] if data.email else [],
        "organizations": [{"name": data.company}] if data.company else [],
        "phoneNumbers": [{"value": data.phone}] if data.phone else [],
    }


class GoogleCalendar:
    kind: RecordKind = "event"

    def __init__(self, endpoint: Endpoint, credentials: Credentials) -> None:
        self.api = SyncApiClient(
            google_api(endpoint, "www.googleapis.com"),
            credentials,
            "Google Calendar",
            SCOPES["event"],
        )

    def changes(self, cursor: str | None) -> Changes:
        state = dict(parse_qsl(cursor or "full=1"))
        full = "full" in state
        # No timeMin: a full listing drops what it lacks, so it lists the whole calendar.
        params = {"maxResults": str(PAGE_SIZE), "showDeleted": "true"}
        params |= {k: state[k] for k in ("syncToken", "pageToken") if k in state}
        response = self.api.request("GET", EVENTS, params=params, allow=(GONE,))
        if response.status_code == GONE:
            raise CursorExpired("Google no longer knows the calendar sync token; listing all.")
        page = response.json()
        records = [_event(e) for e in page.get("items", [])]
        if page.get("nextPageToken"):
            following = _cursor(
                pageToken=page["nextPageToken"],
                syncToken=state.get("syncToken", ""),
                full="1" if full else "",
            )
            return Changes(records, following, more=True, full=full)
        return Changes(
            records, _cursor(syncToken=page.get("nextSyncToken", "")), more=False, full=full
        )

    def _item(self, remote_id: str) -> str:
        return f"{EVENTS}/{quote(remote_id, safe='')}"

    def current(self, remote_id: str) -> RemoteRecord:
        response = self.api.request("GET", self._item(remote_id), allow=(NOT_FOUND, GONE))
        if response.status_code in (NOT_FOUND, GONE):
            return RemoteRecord(remote_id, "", None)
        return _event(response.json())

    def create(self, data: RecordData) -> RemoteRecord:
        made = self.api.request("POST", EVENTS, json=_event_body(data))
        return _event(made.json())

    def _conditional(self, method: str, remote_id: str, etag: str, **kw: Any) -> httpx.Response:
        response = self.api.request(
            method,
            self._item(remote_id),
            headers={"If-Match": etag},
            allow=(PRECONDITION_FAILED, NOT_FOUND, GONE),
            **kw,
        )
        if response.status_code in (PRECONDITION_FAILED, NOT_FOUND, GONE):
            current = self.current(remote_id)
            if method == "DELETE" and current.data is None:
                return response  # already gone: what was asked
            raise EditConflict(
                "The event was changed in Google Calendar since it was read; the account's "
                "version is kept and this edit goes to the history.",
                current,
            )
        return response

    def update(self, remote_id: str, etag: str, data: RecordData) -> RemoteRecord:
        return _event(self._conditional("PATCH", remote_id, etag, json=_event_body(data)).json())

    def delete(self, remote_id: str, etag: str) -> None:
        self._conditional("DELETE", remote_id, etag)

    def close(self) -> None:
        self.api.close()


def _event(event: dict[str, Any]) -> RemoteRecord:
    remote_id, etag = str(event["id"]), str(event.get("etag", ""))
    if event.get("status") == "cancelled":
        return RemoteRecord(remote_id, etag, None)
    body, link = split_link(str(event.get("description") or ""))
    return RemoteRecord(
        remote_id,
        etag,
        EventData(
            title=str(event.get("summary") or ""),
            start=_when(event["start"]),
            end=_when(event["end"]),
            attendees=tuple(str(a["email"]) for a in event.get("attendees") or []),
            body=body,
            link=str((event.get("source") or {}).get("url") or "") or link,
        ),
    )


def _event_body(data: RecordData) -> dict[str, Any]:
    assert isinstance(data, EventData)
    absolute = data.link.startswith(("https://", "http://"))
    body: dict[str, Any] = {
        "summary": data.title,
        "description": data.body if absolute else join_link(data.body, data.link),
        "start": {"dateTime": _iso(data.start)},
        "end": {"dateTime": _iso(data.end)},
        "attendees": [{"email": a} for a in data.attendees],
    }
    if absolute:  # the event's source: where it was made, shown as a link in Google Calendar
        body["source"] = {"title": "postroom request", "url": data.link}
    return body


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(value: dict[str, Any]) -> datetime:
    """An RFC 3339 dateTime with its offset, or an all-day event's date (from midnight UTC)."""
    if "dateTime" in value:
        return datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00")).astimezone(UTC)
    return datetime.fromisoformat(str(value["date"])).replace(tzinfo=UTC)
