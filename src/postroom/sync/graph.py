"""Microsoft Graph contacts and calendar events as sync sources (see source.py for the contract).

Both follow a delta query: `@odata.nextLink` pages, `@odata.deltaLink` is the cursor, removed
items carry `@removed`, a 410 (syncStateNotFound) means the cursor is gone. The version of an
item is its changeKey; Graph's etag is `W/"<changeKey>"`, so a write sends it as If-Match and
a 412 (ErrorIrresolvableConflict) means the account changed the item since.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from postroom.domain.endpoints import Credentials, Endpoint
from postroom.errors import MailServerError
from postroom.sync.cloud_client import SyncApiClient
from postroom.sync.links import join_link, split_link
from postroom.sync.scopes import GRAPH
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
GONE, PRECONDITION_FAILED, NOT_FOUND = 410, 412, 404
# calendarView delta needs a window, fixed when the round starts and kept by its delta links.
# A full listing drops what is outside it, so it reaches back far; it is moved on (a new full
# listing, deduplicated) once it is a month old, so the coming year stays in view.
WINDOW_BACK = timedelta(days=365)
WINDOW_AHEAD = timedelta(days=365)
WINDOW_MOVES = timedelta(days=30)


class _GraphSource:
    kind: RecordKind
    collection: str  # contacts, events

    def __init__(self, endpoint: Endpoint, credentials: Credentials) -> None:
        self.api = SyncApiClient(endpoint, credentials, "Microsoft Graph", GRAPH[self.kind])
        self.user = f"/v1.0/users/{quote(credentials.login)}"
        self.headers = {"Prefer": f"odata.maxpagesize={PAGE_SIZE}"}

    def _start(self, tags: dict[str, str]) -> str:
        raise NotImplementedError

    def _window(self, tags: dict[str, str]) -> tuple[datetime, datetime] | None:
        """The span of start times a full listing of this round covers; None: everything."""
        return None

    def _data(self, item: dict[str, Any]) -> RecordData:
        raise NotImplementedError

    def _body(self, data: RecordData) -> dict[str, Any]:
        raise NotImplementedError

    def _record(self, item: dict[str, Any]) -> RemoteRecord:
        if "@removed" in item:
            return RemoteRecord(str(item["id"]), "", None)
        return RemoteRecord(str(item["id"]), str(item.get("changeKey", "")), self._data(item))

    def _tags(self) -> dict[str, str]:
        """What a new round notes in its cursors besides Graph's link."""
        return {}

    def _check(self, tags: dict[str, str]) -> None:
        """Raise CursorExpired when a cursor should not be followed any more."""

    def changes(self, cursor: str | None) -> Changes:
        if cursor is None:
            tags = {"full": "1"} | self._tags()
            url = self._start(tags)
        else:
            url, tags = _unpack(cursor)
            self._check(tags)
        full = "full" in tags
        response = self.api.request("GET", url, headers=self.headers, allow=(GONE,))
        if response.status_code == GONE:
            raise CursorExpired(
                f"Microsoft Graph no longer knows this {self.kind} delta link; "
                "listing everything again."
            )
        page = response.json()
        records = [self._record(item) for item in page.get("value", [])]
        window = self._window(tags)
        if "@odata.nextLink" in page:
            following = _pack(page["@odata.nextLink"], tags)
            return Changes(records, following, more=True, full=full, window=window)
        tags.pop("full", None)
        following = _pack(page["@odata.deltaLink"], tags)
        return Changes(records, following, more=False, full=full, window=window)

    def _item(self, remote_id: str) -> str:
        return f"{self.user}/{self.collection}/{quote(remote_id)}"

    def current(self, remote_id: str) -> RemoteRecord:
        """The account's version now; data None when it is gone."""
        response = self.api.request(
            "GET", self._item(remote_id), headers=self.headers, allow=(NOT_FOUND,)
        )
        if response.status_code == NOT_FOUND:
            return RemoteRecord(remote_id, "", None)
        return self._record(response.json())

    def create(self, data: RecordData) -> RemoteRecord:
        made = self.api.request(
            "POST", f"{self.user}/{self.collection}", json=self._body(data), headers=self.headers
        )
        return self._record(made.json())

    def _conditional(self, method: str, remote_id: str, etag: str, **kw: Any) -> httpx.Response:
        """A write only if the account still holds `etag`, else EditConflict with its version."""
        headers = self.headers | {"If-Match": f'W/"{etag}"'}
        response = self.api.request(
            method,
            self._item(remote_id),
            headers=headers,
            allow=(PRECONDITION_FAILED, NOT_FOUND),
            **kw,
        )
        if response.status_code in (PRECONDITION_FAILED, NOT_FOUND):
            current = self.current(remote_id)
            if method == "DELETE" and current.data is None:
                return response  # already gone: what was asked
            raise EditConflict(
                f"The {self.kind} was changed in Microsoft 365 since it was read; "
                "the account's version is kept and this edit goes to the history.",
                current,
            )
        return response

    def update(self, remote_id: str, etag: str, data: RecordData) -> RemoteRecord:
        response = self._conditional("PATCH", remote_id, etag, json=self._body(data))
        return self._record(response.json())

    def delete(self, remote_id: str, etag: str) -> None:
        self._conditional("DELETE", remote_id, etag)

    def close(self) -> None:
        self.api.close()


class GraphContacts(_GraphSource):
    kind: RecordKind = "contact"
    collection = "contacts"

    def _start(self, tags: dict[str, str]) -> str:
        return f"{self.user}/contacts/delta"

    def _data(self, item: dict[str, Any]) -> ContactData:
        emails = item.get("emailAddresses") or [{}]
        phones = [*(item.get("businessPhones") or []), item.get("mobilePhone")]
        phones += item.get("homePhones") or []
        return ContactData(
            email=str(emails[0].get("address") or ""),
            name=str(item.get("displayName") or ""),
            company=str(item.get("companyName") or ""),
            phone=next((str(p) for p in phones if p), ""),
        )

    def _body(self, data: RecordData) -> dict[str, Any]:
        assert isinstance(data, ContactData)
        given, _, surname = data.name.partition(" ")
        return {
            "displayName": data.name,
            "givenName": given,
            "surname": surname,
            "emailAddresses": [{"address": data.email, "name": data.name}] if data.email else [],
            "companyName": data.company,
            "businessPhones": [data.phone] if data.phone else [],
        }


class GraphEvents(_GraphSource):
    kind: RecordKind = "event"
    collection = "events"

    def __init__(self, endpoint: Endpoint, credentials: Credentials) -> None:
        super().__init__(endpoint, credentials)
        # Times in UTC and bodies as text, whatever the mailbox's own settings.
        self.headers["Prefer"] += ', outlook.timezone="UTC", outlook.body-content-type="text"'

    def _tags(self) -> dict[str, str]:
        now = datetime.now(UTC)
        return {
            "window": now.date().isoformat(),
            "from": _iso(now - WINDOW_BACK),
            "to": _iso(now + WINDOW_AHEAD),
        }

    def _window(self, tags: dict[str, str]) -> tuple[datetime, datetime] | None:
        if "from" not in tags or "to" not in tags:  # a cursor noted before windows were
            return None
        return _parse_iso(tags["from"]), _parse_iso(tags["to"])

    def _check(self, tags: dict[str, str]) -> None:
        opened = date.fromisoformat(tags.get("window", "1970-01-01"))
        if datetime.now(UTC).date() - opened > WINDOW_MOVES:
            raise CursorExpired("The calendar window has moved on; listing it again.")

    def _start(self, tags: dict[str, str]) -> str:
        window = {"startDateTime": tags["from"], "endDateTime": tags["to"]}
        return f"{self.user}/calendarView/delta?{urlencode(window)}"

    def _data(self, item: dict[str, Any]) -> EventData:
        body, link = split_link(str((item.get("body") or {}).get("content") or ""))
        return EventData(
            title=str(item.get("subject") or ""),
            start=_when(item["start"]),
            end=_when(item["end"]),
            attendees=tuple(str(a["emailAddress"]["address"]) for a in item.get("attendees") or []),
            body=body,
            link=link,
        )

    def _body(self, data: RecordData) -> dict[str, Any]:
        assert isinstance(data, EventData)
        return {
            "subject": data.title,
            "body": {"contentType": "text", "content": join_link(data.body, data.link)},
            "start": {"dateTime": _local(data.start), "timeZone": "UTC"},
            "end": {"dateTime": _local(data.end), "timeZone": "UTC"},
            "attendees": [
                {"emailAddress": {"address": a}, "type": "required"} for a in data.attendees
            ],
        }


def _pack(url: str, tags: dict[str, str]) -> str:
    """Our cursor: `key=value` tags, then Graph's link (a URL holds no space)."""
    return " ".join([*(f"{k}={v}" for k, v in tags.items()), str(url)])


def _unpack(cursor: str) -> tuple[str, dict[str, str]]:
    *tags, url = cursor.split(" ")
    return url, dict(tag.partition("=")[::2] for tag in tags)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _local(moment: datetime) -> str:
    """A dateTimeTimeZone's dateTime: no offset, the zone goes in timeZone."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000")


def _when(value: dict[str, Any]) -> datetime:
    """Graph's 2026-12-09T03:00:00.0000000 in the zone asked for (UTC)."""
    text = str(value["dateTime"]).rstrip("Z").split(".")[0]
    zone = str(value.get("timeZone") or "UTC")
    if zone.upper() not in ("UTC", "ETC/UTC"):
        raise MailServerError(f"Microsoft Graph answered in {zone}, not in UTC as asked.")
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
