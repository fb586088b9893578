"""The contacts and calendar half of the local Microsoft Graph (v1.0), which GraphServer serves
beside mail: `contacts/delta` and `calendarView/delta` (startDateTime and endDateTime on the
first call) with opaque `$skiptoken`/`$deltatoken` links, removed items as `@removed`, a 410
syncStateNotFound once `forget_delta_links()` ran; create (POST), update (PATCH) and DELETE
of a contact or event, refused with 412 ErrorIrresolvableConflict when If-Match does not
carry the item's current changeKey (Graph's etag is W/"<changeKey>"). Event times are
answered in UTC, as Graph does unless asked for another zone.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from .cloud import CloudApiServer, UserRoute
from .http import Request, Response

__all__ = ["GraphItem", "GraphSyncApi"]

USER = r"/v1\.0/(?:users/(?P<user>[^/]+)|me)"
COLLECTION = r"(?P<collection>contacts|events)"
CONTACT_FIELDS = (
    "displayName",
    "givenName",
    "surname",
    "emailAddresses",
    "companyName",
    "businessPhones",
    "mobilePhone",
    "homePhones",
)
EVENT_FIELDS = ("subject", "body", "start", "end", "attendees", "location")


SYNC_PERMISSIONS = {"contacts": "Contacts", "events": "Calendars"}


@dataclass
class GraphItem:
    id: str
    fields: dict[str, Any]
    change_key: str
    changed: int  # the change number of its last change

    @property
    def etag(self) -> str:
        return f'W/"{self.change_key}"'


@dataclass
class _DeltaState:
    user: str
    collection: str
    since: int
    offset: int
    window: tuple[datetime, datetime] | None
    until: int  # the change number the round ends at (its delta link starts there)


def _error(status: int, code: str, message: str) -> Response:
    return Response.json({"error": {"code": code, "message": message}}, status)


def _utc(value: dict[str, Any]) -> datetime:
    """A dateTimeTimeZone (a dateTime without offset, its zone beside it) as UTC."""
    zone = str(value.get("timeZone") or "UTC")
    moment = datetime.fromisoformat(str(value["dateTime"]).rstrip("Z").split(".")[0])
    return moment.replace(tzinfo=UTC if zone.upper() == "UTC" else ZoneInfo(zone)).astimezone(UTC)


def _graph_time(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}


def _query_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class GraphSyncApi(CloudApiServer):
    items: dict[tuple[str, str], dict[str, GraphItem]] = field(default_factory=dict)
    gone: dict[tuple[str, str], list[tuple[int, str]]] = field(default_factory=dict)
    delta_states: dict[str, _DeltaState] = field(default_factory=dict)  # token -> state
    sync_change: int = 0

    def _sync_routes(self) -> list[UserRoute]:
        scoped = self._sync_scoped
        return [
            ("GET", USER + r"/contacts/delta", scoped(self._sync_contacts_delta, "contacts")),
            ("GET", USER + r"/calendarView/delta", scoped(self._sync_events_delta, "events")),
            ("POST", USER + r"/" + COLLECTION, scoped(self._sync_create)),
            ("GET", USER + r"/" + COLLECTION + r"/(?P<id>[^/]+)", scoped(self._sync_get)),
            ("PATCH", USER + r"/" + COLLECTION + r"/(?P<id>[^/]+)", scoped(self._sync_update)),
            ("DELETE", USER + r"/" + COLLECTION + r"/(?P<id>[^/]+)", scoped(self._sync_delete)),
        ]

    def _sync_scoped(
        self, serve: Callable[[Request, str], Response], collection: str | None = None
    ) -> Callable[[Request, str], Response]:
        """Graph's permissions: Contacts.ReadWrite / Calendars.ReadWrite (or .Read to read);
        an app-only token carries what the admin granted as `.default`. Else 403."""

        def handler(request: Request, user: str) -> Response:
            token = self.identity.account_of(request.bearer)
            granted = {w.rsplit("/", 1)[-1] for w in (token.scope.split() if token else [])}
            base = SYNC_PERMISSIONS[collection or request.params["collection"]]
            allowed = {f"{base}.ReadWrite", ".default"}
            if request.method == "GET":
                allowed.add(f"{base}.Read")
            if not granted & allowed:
                denied = "Access is denied. Check credentials and try again."
                return _error(403, "ErrorAccessDenied", denied)
            return serve(request, user)

        return handler

    # ------------------------------------------------------------------ control

    def add_item(self, user: str, collection: str, fields: dict[str, Any]) -> str:
        """What a person does in Outlook: a new contact or event; returns its id."""
        with self._lock:
            return self._sync_add(user, collection, fields).id

    def change_item(self, user: str, collection: str, item_id: str, **fields: Any) -> None:
        with self._lock:
            self._sync_change(collection, self.items[(user, collection)][item_id], fields)

    def remove_item(self, user: str, collection: str, item_id: str) -> None:
        with self._lock:
            self._sync_remove(user, collection, item_id)

    def item(self, user: str, collection: str, item_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.items.get((user, collection), {}).get(item_id)
            return None if found is None else self._sync_json(collection, found)

    def all_items(self, user: str, collection: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                self._sync_json(collection, i)
                for i in self.items.get((user, collection), {}).values()
            ]

    def forget_delta_links(self) -> None:
        """The sync state behind every delta and next link is gone: they answer 410."""
        with self._lock:
            self.delta_states.clear()

    # -------------------------------------------------------------- machinery

    def _sync_add(self, user: str, collection: str, fields: dict[str, Any]) -> GraphItem:
        self.sync_change += 1
        prefix = "AAMkC" if collection == "contacts" else "AAMkE"
        item = GraphItem(
            prefix + secrets.token_urlsafe(12),
            self._sync_normal(collection, fields),
            secrets.token_urlsafe(12),
            self.sync_change,
        )
        self.items.setdefault((user, collection), {})[item.id] = item
        return item

    def _sync_change(self, collection: str, item: GraphItem, fields: dict[str, Any]) -> None:
        self.sync_change += 1
        item.fields |= self._sync_normal(collection, fields)
        item.change_key = secrets.token_urlsafe(12)
        item.changed = self.sync_change

    def _sync_remove(self, user: str, collection: str, item_id: str) -> None:
        self.sync_change += 1
        del self.items[(user, collection)][item_id]
        self.gone.setdefault((user, collection), []).append((self.sync_change, item_id))

    @staticmethod
    def _sync_normal(collection: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Only the properties this server keeps; event times stored in UTC."""
        known = CONTACT_FIELDS if collection == "contacts" else EVENT_FIELDS
        kept = {k: v for k, v in fields.items() if k in known}
        for when in ("start", "end"):
            if when in kept:
                kept[when] = _graph_time(_utc(kept[when]))
        return kept

    def _sync_json(self, collection: str, item: GraphItem) -> dict[str, Any]:
        kind = "contact" if collection == "contacts" else "event"
        body: dict[str, Any] = {
            "@odata.type": f"#microsoft.graph.{kind}",
            "@odata.etag": item.etag,
            "id": item.id,
            "changeKey": item.change_key,
        }
        if collection == "contacts":
            body |= {"emailAddresses": [], "businessPhones": [], "homePhones": []}
            body |= {"mobilePhone": None, "companyName": None}
        else:
            body |= {"body": {"contentType": "text", "content": ""}, "attendees": []}
            body["attendees"] = [
                a | {"status": {"response": "none", "time": "0001-01-01T00:00:00Z"}}
                for a in item.fields.get("attendees", [])
            ]
        return body | {k: v for k, v in item.fields.items() if k != "attendees"}

    def _sync_in_window(self, item: GraphItem, window: tuple[datetime, datetime] | None) -> bool:
        if window is None:
            return True
        return _utc(item.fields["start"]) < window[1] and _utc(item.fields["end"]) > window[0]

    def _sync_contacts_delta(self, request: Request, user: str) -> Response:
        return self._sync_delta(request, user, "contacts", "contacts/delta")

    def _sync_events_delta(self, request: Request, user: str) -> Response:
        return self._sync_delta(request, user, "events", "calendarView/delta")

    def _sync_delta(self, request: Request, user: str, collection: str, path: str) -> Response:
        token = request.query.get("$skiptoken") or request.query.get("$deltatoken")
        with self._lock:
            if token is not None:
                state = self.delta_states.get(token)
                if state is None or state.user != user or state.collection != collection:
                    return _error(
                        410, "SyncStateNotFound", "The sync state generation is not found."
                    )
                if "$deltatoken" in request.query:  # a new round from where the last ended
                    state = _DeltaState(user, collection, state.until, 0, state.window, 0)
            else:
                window = None
                if collection == "events":
                    try:
                        window = (
                            _query_time(request.query["startDateTime"]),
                            _query_time(request.query["endDateTime"]),
                        )
                    except (KeyError, ValueError):
                        return _error(
                            400,
                            "ErrorInvalidParameter",
                            "This request requires a time window specified by the query "
                            "string parameters StartDateTime and EndDateTime.",
                        )
                state = _DeltaState(user, collection, 0, 0, window, 0)
            if state.until == 0:
                state.until = self.sync_change
            key = (user, collection)
            rows: list[dict[str, Any]] = [
                self._sync_json(collection, item)
                for item in sorted(self.items.get(key, {}).values(), key=lambda i: i.changed)
                if state.since < item.changed <= state.until
                and self._sync_in_window(item, state.window)
            ]
            if state.since:
                kind = "contact" if collection == "contacts" else "event"
                rows += [
                    {
                        "@odata.type": f"#microsoft.graph.{kind}",
                        "id": i,
                        "@removed": {"reason": "deleted"},
                    }
                    for change, i in self.gone.get(key, [])
                    if state.since < change <= state.until
                ]
            size = self.page_size
            prefer = request.headers.get("prefer", "")
            if "odata.maxpagesize=" in prefer:
                size = min(size, int(prefer.split("odata.maxpagesize=")[1].split(",")[0]))
            page = rows[state.offset : state.offset + size]
            link = f"{self.base_url}/v1.0/users/{quote(user)}/{path}"
            body: dict[str, Any] = {"@odata.context": f"{self.base_url}/v1.0/$metadata#Collection"}
            following = secrets.token_urlsafe(16)
            if state.offset + size < len(rows):
                self.delta_states[following] = _DeltaState(
                    user, collection, state.since, state.offset + size, state.window, state.until
                )
                body["@odata.nextLink"] = f"{link}?$skiptoken={following}"
            else:
                self.delta_states[following] = _DeltaState(
                    user, collection, state.until, 0, state.window, state.until
                )
                body["@odata.deltaLink"] = f"{link}?$deltatoken={following}"
        body["value"] = page
        return Response.json(body)

    def _sync_found(self, request: Request, user: str) -> GraphItem | Response:
        item = self.items.get((user, request.params["collection"]), {}).get(request.params["id"])
        if item is None:
            return _error(
                404, "ErrorItemNotFound", "The specified object was not found in the store."
            )
        return item

    def _sync_get(self, request: Request, user: str) -> Response:
        with self._lock:
            item = self._sync_found(request, user)
            if isinstance(item, Response):
                return item
            return Response.json(self._sync_json(request.params["collection"], item))

    def _sync_create(self, request: Request, user: str) -> Response:
        collection = request.params["collection"]
        fields = request.json()
        if not isinstance(fields, dict):
            return _error(400, "RequestBodyRead", "The request body is not a JSON object.")
        if collection == "events" and not ("start" in fields and "end" in fields):
            return _error(400, "ErrorInvalidRequest", "An event needs a start and an end.")
        with self._lock:
            item = self._sync_add(user, collection, fields)
            return Response.json(self._sync_json(collection, item), 201)

    def _sync_precondition(self, request: Request, item: GraphItem) -> Response | None:
        wanted = request.headers.get("if-match")
        if wanted is None or wanted in (item.etag, "*"):
            return None
        return _error(
            412,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key "
            "passed in the request does not match the current change key for the item.",
        )

    def _sync_update(self, request: Request, user: str) -> Response:
        with self._lock:
            item = self._sync_found(request, user)
            if isinstance(item, Response):
                return item
            refused = self._sync_precondition(request, item)
            if refused is not None:
                return refused
            self._sync_change(request.params["collection"], item, request.json())
            return Response.json(self._sync_json(request.params["collection"], item))

    def _sync_delete(self, request: Request, user: str) -> Response:
        with self._lock:
            item = self._sync_found(request, user)
            if isinstance(item, Response):
                return item
            refused = self._sync_precondition(request, item)
            if refused is not None:
                return refused
            self._sync_remove(user, request.params["collection"], item.id)
        return Response(204)
