"""The contacts and calendar half of the local Google APIs, which GmailServer serves beside
Gmail (Google serves them on people.googleapis.com and www.googleapis.com; here one server).

People API v1: people.connections.list (personFields required; pageToken; requestSyncToken
gives nextSyncToken on the last page; with syncToken the people changed since, deleted ones as
`metadata.deleted`; an expired token is 400 FAILED_PRECONDITION with ErrorInfo
EXPIRED_SYNC_TOKEN), people.get, createContact, updateContact (updatePersonFields and the
person's etag required; a stale etag is 400 FAILED_PRECONDITION), deleteContact.

Calendar API v3 on the primary calendar: events.list (pageToken, nextSyncToken on the last
page, syncToken: the events changed since, cancelled ones included; a syncToken with timeMin
is refused; an expired one is 410 fullSyncRequired), get, insert, patch and delete with
If-Match (412 conditionNotMet on a stale etag; a deleted event is cancelled, 410 to change).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from .cloud import CloudApiServer, UserRoute
from .http import Request, Response

__all__ = ["GoogleSyncApi"]

PERSON = r"/v1/people/(?P<id>c[0-9]+)"
EVENTS = r"/calendar/v3/calendars/primary/events"
SYNC_SCOPES = {"contacts": ("contacts",), "calendar": ("calendar.events", "calendar")}
PERSON_FIELDS = {"names", "emailAddresses", "organizations", "phoneNumbers", "metadata"}


@dataclass
class GoogleRecord:
    """A person or an event, with its change number; a deleted one stays as a tombstone."""

    id: str
    fields: dict[str, Any]
    etag: str
    changed: int
    deleted: bool = False


def _error(code: int, status: str, message: str, reason: str = "") -> Response:
    body: dict[str, Any] = {"code": code, "message": message, "status": status}
    body["errors"] = [{"message": message, "domain": "global", "reason": reason or status}]
    if reason:
        body["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
        ]
    return Response.json({"error": body}, code)


def _time(value: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(value["dateTime"]).replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class GoogleSyncApi(CloudApiServer):
    people: dict[str, dict[str, GoogleRecord]] = field(default_factory=dict)  # user -> id
    events: dict[str, dict[str, GoogleRecord]] = field(default_factory=dict)
    tokens: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # kind, user, since
    pages: dict[str, tuple[str, str, int, int, int, str]] = field(default_factory=dict)
    google_change: int = 0

    def _sync_routes(self) -> list[UserRoute]:
        people, events = (
            partial(self._sync_scoped, kind="contacts"),
            partial(self._sync_scoped, kind="calendar"),
        )
        return [
            ("GET", r"/v1/people/me/connections", people(self._sync_connections)),
            ("POST", r"/v1/people:createContact", people(self._sync_create_person)),
            ("GET", PERSON, people(self._sync_get_person)),
            ("PATCH", PERSON + r":updateContact", people(self._sync_update_person)),
            ("DELETE", PERSON + r":deleteContact", people(self._sync_delete_person)),
            ("GET", EVENTS, events(self._sync_list_events)),
            ("POST", EVENTS, events(self._sync_insert_event)),
            ("GET", EVENTS + r"/(?P<id>[^/]+)", events(self._sync_get_event)),
            ("PATCH", EVENTS + r"/(?P<id>[^/]+)", events(self._sync_patch_event)),
            ("DELETE", EVENTS + r"/(?P<id>[^/]+)", events(self._sync_delete_event)),
        ]

    def _sync_scoped(
        self, serve: Callable[[Request, str], Response], kind: str
    ) -> Callable[[Request, str], Response]:
        """People needs .../auth/contacts (contacts.readonly to read); Calendar events
        .../auth/calendar.events or .../auth/calendar (their .readonly to read). Else 403
        PERMISSION_DENIED with ErrorInfo ACCESS_TOKEN_SCOPE_INSUFFICIENT."""

        def handler(request: Request, user: str) -> Response:
            token = self.identity.account_of(request.bearer)
            granted = {w.rsplit("/", 1)[-1] for w in (token.scope.split() if token else [])}
            allowed = set(SYNC_SCOPES[kind])
            if request.method == "GET":
                allowed |= {f"{a}.readonly" for a in allowed}
            if not granted & allowed:
                return _error(
                    403,
                    "PERMISSION_DENIED",
                    "Request had insufficient authentication scopes.",
                    "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                )
            return serve(request, user)

        return handler

    # ------------------------------------------------------------------ control

    def add_person(self, user: str, fields: dict[str, Any]) -> str:
        """A contact made in Google Contacts; returns its resourceName."""
        with self._lock:
            return "people/" + self._sync_add(self.people, user, "c", fields).id

    def add_event(self, user: str, fields: dict[str, Any]) -> str:
        with self._lock:
            return self._sync_add(self.events, user, "", fields).id

    def change(self, user: str, remote_id: str, **fields: Any) -> None:
        """A change made in Google to a person (people/c…) or an event (its id)."""
        with self._lock:
            self._sync_touch(
                self._sync_store(remote_id)[user][remote_id.removeprefix("people/")], fields
            )

    def remove(self, user: str, remote_id: str) -> None:
        with self._lock:
            record = self._sync_store(remote_id)[user][remote_id.removeprefix("people/")]
            self._sync_touch(record, {})
            record.deleted = True

    def record(self, user: str, remote_id: str) -> GoogleRecord | None:
        with self._lock:
            return self._sync_store(remote_id).get(user, {}).get(remote_id.removeprefix("people/"))

    def live(self, user: str, kind: str) -> list[GoogleRecord]:
        """The people or events not deleted."""
        store = self.people if kind == "people" else self.events
        with self._lock:
            return [r for r in store.get(user, {}).values() if not r.deleted]

    def expire_sync_tokens(self) -> None:
        """Sync tokens last 7 days (People) or until Google drops them (Calendar)."""
        with self._lock:
            self.tokens.clear()

    # -------------------------------------------------------------- machinery

    def _sync_store(self, remote_id: str) -> dict[str, dict[str, GoogleRecord]]:
        return self.people if remote_id.startswith("people/") else self.events

    def _sync_add(
        self,
        store: dict[str, dict[str, GoogleRecord]],
        user: str,
        prefix: str,
        fields: dict[str, Any],
    ) -> GoogleRecord:
        self.google_change += 1
        number = str(secrets.randbelow(10**12))
        record_id = prefix + number if prefix else secrets.token_hex(13)
        record = GoogleRecord(record_id, dict(fields), self._sync_etag(), self.google_change)
        store.setdefault(user, {})[record_id] = record
        return record

    def _sync_etag(self) -> str:
        return f'"{secrets.randbelow(10**16)}"'  # opaque; Calendar's look like this

    def _sync_touch(self, record: GoogleRecord, fields: dict[str, Any]) -> None:
        self.google_change += 1
        record.fields |= fields
        record.etag = self._sync_etag()
        record.changed = self.google_change

    def _sync_list(
        self, kind: str, user: str, store: dict[str, GoogleRecord], request: Request, size: int
    ) -> tuple[list[GoogleRecord], dict[str, str]] | Response:
        """One page of a listing: the records and the tokens to answer with."""
        query = request.query
        page_token, sync_token = query.get("pageToken"), query.get("syncToken")
        if page_token is not None:
            found = self.pages.get(page_token)
            if found is None or found[:2] != (kind, user):
                return _error(400, "INVALID_ARGUMENT", "Page token is not valid.")
            _, _, since, until, offset, after = found
        elif sync_token is not None:
            token = self.tokens.get(sync_token)
            if token is None or token[:2] != (kind, user):
                if kind == "people":
                    return _error(
                        400,
                        "FAILED_PRECONDITION",
                        "Sync token is expired. Clear local cache and retry call without the "
                        "sync token.",
                        "EXPIRED_SYNC_TOKEN",
                    )
                return _error(
                    410,
                    "GONE",
                    "Sync token is no longer valid, a full sync is required.",
                    "fullSyncRequired",
                )
            since, until, offset, after = token[2], self.google_change, 0, ""
        else:
            since, until, offset, after = 0, self.google_change, 0, query.get("timeMin", "")
        rows = sorted(
            (r for r in store.values() if since < r.changed <= until),
            key=lambda r: r.changed,
        )
        if not since:
            rows = [r for r in rows if not r.deleted or query.get("showDeleted") == "true"]
            if after:
                start = datetime.fromisoformat(after.replace("Z", "+00:00"))
                rows = [r for r in rows if _time(r.fields["end"]) > start]
        page = rows[offset : offset + size]
        answer: dict[str, str] = {}
        if offset + size < len(rows):
            following = secrets.token_urlsafe(16)
            self.pages[following] = (kind, user, since, until, offset + size, after)
            answer["nextPageToken"] = following
        elif kind == "events" or query.get("requestSyncToken") == "true":
            next_sync = secrets.token_urlsafe(16)
            self.tokens[next_sync] = (kind, user, until)
            answer["nextSyncToken"] = next_sync
        return page, answer

    # ------------------------------------------------------------------ People

    def _sync_person(self, record: GoogleRecord, fields: set[str]) -> dict[str, Any]:
        resource = "people/" + record.id
        source = {"type": "CONTACT", "id": record.id.removeprefix("c"), "etag": record.etag}
        body: dict[str, Any] = {"resourceName": resource, "etag": record.etag}
        if record.deleted:
            return body | {"metadata": {"sources": [source], "deleted": True}}
        if "metadata" in fields:
            body["metadata"] = {"sources": [source], "objectType": "PERSON"}
        for name in fields - {"metadata"}:
            values = [dict(v) for v in record.fields.get(name, [])]
            if name == "names":
                for value in values:
                    given = " ".join(
                        filter(None, [value.get("givenName"), value.get("familyName")])
                    )
                    value["displayName"] = value.get("unstructuredName") or given
            if values:
                body[name] = values
        return body

    def _sync_fields(
        self, request: Request, parameter: str = "personFields"
    ) -> set[str] | Response:
        wanted = {f for f in request.query.get(parameter, "").split(",") if f}
        if not wanted:
            return _error(
                400,
                "INVALID_ARGUMENT",
                f"{parameter} mask is required. Please specify one or more valid paths.",
            )
        if not wanted <= PERSON_FIELDS:
            return _error(
                400,
                "INVALID_ARGUMENT",
                f"Invalid {parameter} mask path: {sorted(wanted - PERSON_FIELDS)}",
            )
        return wanted

    def _sync_connections(self, request: Request, user: str) -> Response:
        fields = self._sync_fields(request)
        if isinstance(fields, Response):
            return fields
        size = min(self.page_size, int(request.query.get("pageSize") or 100))
        with self._lock:
            listed = self._sync_list("people", user, self.people.get(user, {}), request, size)
            if isinstance(listed, Response):
                return listed
            page, tokens = listed
            total = sum(not r.deleted for r in self.people.get(user, {}).values())
            connections = [self._sync_person(r, fields) for r in page]
        return Response.json(
            {"connections": connections, "totalItems": total, "totalPeople": total} | tokens
        )

    def _sync_person_found(self, request: Request, user: str) -> GoogleRecord | Response:
        record = self.people.get(user, {}).get(request.params["id"])
        if record is None or record.deleted:
            return _error(404, "NOT_FOUND", "Requested entity was not found.")
        return record

    def _sync_get_person(self, request: Request, user: str) -> Response:
        fields = self._sync_fields(request)
        if isinstance(fields, Response):
            return fields
        with self._lock:
            record = self._sync_person_found(request, user)
            if isinstance(record, Response):
                return record
            return Response.json(self._sync_person(record, fields))

    def _sync_create_person(self, request: Request, user: str) -> Response:
        fields = self._sync_fields(request)
        if isinstance(fields, Response):
            return fields
        body = request.json() or {}
        kept = {k: v for k, v in body.items() if k in PERSON_FIELDS - {"metadata"}}
        with self._lock:
            record = self._sync_add(self.people, user, "c", kept)
            return Response.json(self._sync_person(record, fields))

    def _sync_update_person(self, request: Request, user: str) -> Response:
        fields = self._sync_fields(request)
        changed = self._sync_fields(request, "updatePersonFields")
        if isinstance(fields, Response):
            return fields
        if isinstance(changed, Response):
            return changed
        body = request.json() or {}
        with self._lock:
            record = self._sync_person_found(request, user)
            if isinstance(record, Response):
                return record
            if not body.get("etag"):
                return _error(400, "INVALID_ARGUMENT", "Request must set person.etag.")
            if body["etag"] != record.etag:
                return _error(
                    400,
                    "FAILED_PRECONDITION",
                    "Request person.etag is different than the current person.etag. Clear "
                    "local cache and get the latest person.",
                )
            self._sync_touch(record, {name: body.get(name, []) for name in changed})
            return Response.json(self._sync_person(record, fields))

    def _sync_delete_person(self, request: Request, user: str) -> Response:
        with self._lock:
            record = self._sync_person_found(request, user)
            if isinstance(record, Response):
                return record
            self._sync_touch(record, {})
            record.deleted = True
        return Response.json({})

    # ---------------------------------------------------------------- Calendar

    def _sync_event(self, record: GoogleRecord) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "calendar#event",
            "etag": record.etag,
            "id": record.id,
            "status": "cancelled" if record.deleted else "confirmed",
        }
        if record.deleted:
            return body
        body["htmlLink"] = f"https://www.google.com/calendar/event?eid={record.id}"
        body |= {k: v for k, v in record.fields.items() if k not in ("start", "end")}
        for when in ("start", "end"):
            body[when] = {"dateTime": _time(record.fields[when]).isoformat(), "timeZone": "UTC"}
        return body

    def _sync_list_events(self, request: Request, user: str) -> Response:
        if "syncToken" in request.query and "timeMin" in request.query:
            return _error(
                400,
                "INVALID_ARGUMENT",
                "Sync token cannot be used with other request restrictions.",
                "invalid",
            )
        size = min(self.page_size, int(request.query.get("maxResults") or 250))
        with self._lock:
            listed = self._sync_list("events", user, self.events.get(user, {}), request, size)
            if isinstance(listed, Response):
                return listed
            page, tokens = listed
            items = [self._sync_event(r) for r in page]
        body = {"kind": "calendar#events", "summary": user, "timeZone": "UTC", "items": items}
        return Response.json(body | tokens)

    def _sync_event_found(self, request: Request, user: str) -> GoogleRecord | Response:
        record = self.events.get(user, {}).get(request.params["id"])
        if record is None:
            return _error(404, "NOT_FOUND", "Not Found", "notFound")
        return record

    def _sync_get_event(self, request: Request, user: str) -> Response:
        with self._lock:
            record = self._sync_event_found(request, user)
            if isinstance(record, Response):
                return record
            return Response.json(self._sync_event(record))

    def _sync_insert_event(self, request: Request, user: str) -> Response:
        body = request.json() or {}
        try:
            _time(body["start"]), _time(body["end"])
        except (KeyError, ValueError):
            return _error(400, "INVALID_ARGUMENT", "Missing or invalid time.", "required")
        with self._lock:
            record = self._sync_add(self.events, user, "", body)
            return Response.json(self._sync_event(record))

    def _sync_writable(self, request: Request, user: str) -> GoogleRecord | Response:
        record = self._sync_event_found(request, user)
        if isinstance(record, Response):
            return record
        if record.deleted:
            return _error(410, "GONE", "Resource has been deleted", "deleted")
        wanted = request.headers.get("if-match")
        if wanted is not None and wanted not in (record.etag, "*"):
            return _error(412, "FAILED_PRECONDITION", "Precondition Failed", "conditionNotMet")
        return record

    def _sync_patch_event(self, request: Request, user: str) -> Response:
        with self._lock:
            record = self._sync_writable(request, user)
            if isinstance(record, Response):
                return record
            self._sync_touch(record, request.json() or {})
            return Response.json(self._sync_event(record))

    def _sync_delete_event(self, request: Request, user: str) -> Response:
        with self._lock:
            record = self._sync_writable(request, user)
            if isinstance(record, Response):
                return record
            self._sync_touch(record, {})
            record.deleted = True
        return Response(204)
