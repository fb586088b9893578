"""CardDAV (RFC 6352) contacts and CalDAV (RFC 4791) events of an IMAP or POP3 mailbox's
account, with the mailbox's credentials. See source.py for the contract.

The caldav library speaks the protocol (requests, authentication, its XML elements and
multistatus parsing); CardDAV's two elements it lacks are declared here the same way.
- Changes come from a sync-collection REPORT (RFC 6578): the sync token is the cursor, an empty
  token lists everything, a token the server no longer knows is CursorExpired. A server without
  sync-collection is listed in full each time (PROPFIND of the etags), which dedupes the same.
- The remote id is the resource's path; the etag is its ETag. Writes carry If-Match (update,
  delete) or If-None-Match: * (create), so a change made meanwhile by another client is never
  overwritten: a 412 becomes EditConflict with the account's version.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from functools import partial
from typing import ClassVar
from urllib.parse import urljoin, urlsplit

from caldav.davclient import DAVClient
from caldav.elements import cdav, dav
from caldav.elements.base import BaseElement, ValuedBaseElement
from caldav.lib import error as dav_error
from caldav.response import DAVResponse, PropfindResult

from postroom.domain.endpoints import Credentials, Endpoint
from postroom.errors import AuthFailed, InvalidInput, Transient, Unreachable
from postroom.sync import ical, vcard
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

log = logging.getLogger(__name__)

CARDDAV = "urn:ietf:params:xml:ns:carddav"
CALDAV = "urn:ietf:params:xml:ns:caldav"
MULTIGET_CHUNK = 100  # hrefs a multiget asks for at once
FULL = "full:"  # the cursor of a server listed in full each time (no sync-collection)
SYNC = "sync:"


class AddressData(ValuedBaseElement):
    tag: ClassVar[str] = f"{{{CARDDAV}}}address-data"


class AddressbookMultiget(BaseElement):
    tag: ClassVar[str] = f"{{{CARDDAV}}}addressbook-multiget"


def _tree(parent: BaseElement, *children: BaseElement) -> BaseElement:
    return parent + list(children)


def _href(path: str) -> BaseElement:
    return dav.Href(value=path)


def _found(response: DAVResponse) -> list[PropfindResult]:
    return [r for r in response.results or [] if isinstance(r, PropfindResult)]


class _SyncRefused(Exception):
    """A 403 (or a precondition) from the server: CursorExpired for a sync token it dropped,
    a missing sync-collection on a first sync, or a refusal everywhere else."""

    def __init__(self, preconditions: list[str]) -> None:
        super().__init__(", ".join(preconditions) or "forbidden")
        self.preconditions = preconditions


def _xml(element: BaseElement) -> str:
    return str(element)


class DavSource:
    """One DAV collection (an address book or a calendar) seen as a SyncSource."""

    kind: RecordKind
    collection_type: ClassVar[str]  # the resourcetype that marks the collection
    content_type: ClassVar[str]
    suffix: ClassVar[str]
    data_element: ClassVar[type[BaseElement]]
    multiget: ClassVar[type[BaseElement]]

    def __init__(self, endpoint: Endpoint, credentials: Credentials, dav_url: str) -> None:
        if urlsplit(dav_url).scheme not in ("http", "https"):
            raise InvalidInput(
                f"The DAV URL {dav_url!r} is not an http(s) URL: give the address book or "
                "calendar URL, or the account's DAV home.",
                field="dav_url",
            )
        self.url = dav_url if dav_url.endswith("/") else dav_url + "/"
        self.client = self._client(endpoint, credentials)
        self._collection: str | None = None

    def _client(self, endpoint: Endpoint, credentials: Credentials) -> DAVClient:
        """The one place the network client is made."""
        return DAVClient(
            url=self.url,
            username=None if credentials.bearer else credentials.login,
            password=credentials.password,
            auth_type="bearer" if credentials.bearer else None,
            timeout=int(endpoint.timeout or 60),
            ssl_verify_cert=endpoint.verify_tls,
            enable_rfc6764=False,
        )

    # ------------------------------------------------------------------ the contract

    def changes(self, cursor: str | None) -> Changes:
        collection = self.collection()
        if cursor is not None and cursor.startswith(FULL):
            return self._listing()
        token = cursor.removeprefix(SYNC) if cursor else ""
        query = _tree(
            dav.SyncCollection(),
            dav.SyncToken(value=token),
            dav.SyncLevel(value="1"),
            self._props(),
        )
        try:
            response = self._call(
                partial(self.client.report, collection, _xml(query), 0), sync=True
            )
        except _SyncRefused as refused:
            if "{DAV:}valid-sync-token" in refused.preconditions and cursor:
                raise CursorExpired(f"The server dropped the sync token of {collection}.") from None
            if cursor is None:  # the server has no sync-collection: list in full
                return self._listing()
            raise AuthFailed(
                f"The DAV server refused to list the changes of {collection}."
            ) from None
        if response.status not in (200, 207):
            if cursor is None:
                return self._listing()
            self._check(response, "list the changes of")
        records, missing, deleted, truncated = self._members(response)
        records += self._fetch(missing)
        records += [RemoteRecord(href, "", None) for href in deleted]
        next_token = response.sync_token or token
        return Changes(records, SYNC + next_token, more=truncated, full=cursor is None)

    def create(self, data: RecordData) -> RemoteRecord:
        uid = str(uuid.uuid4())
        href = urlsplit(urljoin(self.collection(), uid + self.suffix)).path
        text = self._write(data, uid, None)
        response = self._put(href, text, {"If-None-Match": "*"})
        self._check(response, "create a record in")
        return RemoteRecord(href, self._etag_of(href, response), data)

    def update(self, remote_id: str, etag: str, data: RecordData) -> RemoteRecord:
        current = self._get(remote_id)
        if current is None:
            raise EditConflict(
                f"{remote_id} was deleted on the account.", RemoteRecord(remote_id, "", None)
            )
        body, current_etag = current
        if current_etag != etag:
            raise EditConflict(
                f"{remote_id} changed on the account.", self._record(remote_id, current_etag, body)
            )
        text = self._write(data, "", body)
        response = self._put(remote_id, text, {"If-Match": etag})
        if response.status == 412:
            raise self._conflict(remote_id)
        self._check(response, "update a record in")
        return RemoteRecord(remote_id, self._etag_of(remote_id, response), data)

    def delete(self, remote_id: str, etag: str) -> None:
        headers = {"If-Match": etag} if etag else {}
        response = self._call(partial(self.client.delete, self._abs(remote_id), headers))
        if response.status == 412:
            raise self._conflict(remote_id)
        if response.status != 404:
            self._check(response, "delete a record in")

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------ the collection

    def collection(self) -> str:
        """The address book or calendar: the URL itself, or the first one found under it or
        under the account's principal (Radicale, Nextcloud, Fastmail: a home of collections)."""
        if self._collection is None:
            self._collection = self._find_collection()
        return self._collection

    def _find_collection(self) -> str:
        places = [self.url]
        seen: set[str] = set()
        while places:
            place = places.pop(0)
            if place in seen:
                continue
            seen.add(place)
            response = self._call(
                partial(self.client.propfind, place, ["resourcetype", "current-user-principal"], 1)
            )
            self._check(response, "look for the collection in")
            for result in _found(response):
                types = result.properties.get("{DAV:}resourcetype") or []
                if self.collection_type in types:
                    return self._abs(result.href)
                principal = result.properties.get("{DAV:}current-user-principal")
                if isinstance(principal, str) and principal:
                    places.append(self._abs(principal))
        noun = "address book" if self.kind == "contact" else "calendar"
        raise InvalidInput(
            f"No {noun} was found at {self.url}: give the {noun}'s URL with --dav-url.",
            field="dav_url",
        )

    # ------------------------------------------------------------------ reading

    def _members(
        self, response: DAVResponse
    ) -> tuple[list[RemoteRecord], list[tuple[str, str]], list[str], bool]:
        """The records a multistatus carries whole, those it names without their data, the
        hrefs it reports deleted (404), and whether the server truncated it (RFC 6578 3.6)."""
        records: list[RemoteRecord] = []
        missing: list[tuple[str, str]] = []
        deleted: list[str] = []
        truncated = False
        tree = response.tree
        if tree is None:
            return records, missing, deleted, truncated
        for element in tree.iter("{DAV:}response"):
            href = self._path(element.findtext("{DAV:}href") or "")
            status = element.findtext("{DAV:}status") or ""
            if href.endswith("/"):
                truncated |= " 507 " in status  # the collection itself: the truncation mark
                continue
            if " 404 " in status:
                deleted.append(href)
                continue
            etag = element.findtext(".//{DAV:}getetag") or ""
            body = element.findtext(f".//{self.data_element.tag}")
            if body:
                record = self._record(href, etag, body)
                if record.data is not None:
                    records.append(record)
            else:
                missing.append((href, etag))
        return records, missing, deleted, truncated

    def _fetch(self, wanted: Iterable[tuple[str, str]]) -> list[RemoteRecord]:
        hrefs = [href for href, _ in wanted]
        records: list[RemoteRecord] = []
        for start in range(0, len(hrefs), MULTIGET_CHUNK):
            chunk = hrefs[start : start + MULTIGET_CHUNK]
            query = _tree(self.multiget(), self._props(), *map(_href, chunk))
            response = self._call(partial(self.client.report, self.collection(), _xml(query), 1))
            self._check(response, "read records of")
            found, _, _, _ = self._members(response)
            records += found
        return records

    def _listing(self) -> Changes:
        """Without sync-collection: every member with its etag, then their data."""
        response = self._call(partial(self.client.propfind, self.collection(), ["getetag"], 1))
        self._check(response, "list")
        members = [
            (self._path(r.href), str(r.properties.get("{DAV:}getetag") or ""))
            for r in _found(response)
            if not r.href.endswith("/")
        ]
        return Changes(self._fetch(members), FULL, more=False, full=True)

    def _get(self, href: str) -> tuple[str, str] | None:
        records = self._raw_members([href])
        return records[0] if records else None

    def _raw_members(self, hrefs: list[str]) -> list[tuple[str, str]]:
        query = _tree(self.multiget(), self._props(), *map(_href, hrefs))
        response = self._call(partial(self.client.report, self.collection(), _xml(query), 1))
        self._check(response, "read a record of")
        found: list[tuple[str, str]] = []
        if response.tree is None:
            return found
        for element in response.tree.iter("{DAV:}response"):
            body = element.findtext(f".//{self.data_element.tag}")
            if body:
                found.append((body, element.findtext(".//{DAV:}getetag") or ""))
        return found

    def _conflict(self, href: str) -> EditConflict:
        current = self._get(href)
        if current is None:
            return EditConflict(f"{href} was deleted on the account.", RemoteRecord(href, "", None))
        body, etag = current
        return EditConflict(f"{href} changed on the account.", self._record(href, etag, body))

    def _etag_of(self, href: str, response: DAVResponse) -> str:
        etag = response.headers.get("ETag") if response.headers else None
        if etag:
            return str(etag)
        current = self._get(href)  # servers may omit the ETag when they rewrite the body
        return current[1] if current else ""

    # ------------------------------------------------------------------ the formats

    def _props(self) -> BaseElement:
        return _tree(dav.Prop(), dav.GetEtag(), self.data_element())

    def _record(self, href: str, etag: str, body: str) -> RemoteRecord:
        raise NotImplementedError

    def _write(self, data: RecordData, uid: str, base: str | None) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------------ HTTP

    def _put(self, href: str, text: str, headers: dict[str, str]) -> DAVResponse:
        headers = {"Content-Type": self.content_type, **headers}
        return self._call(partial(self.client.put, self._abs(href), text, headers))

    def _abs(self, href: str) -> str:
        return urljoin(self.url, href)

    def _path(self, href: str) -> str:
        return urlsplit(urljoin(self.url, href)).path

    def _call(self, request: Callable[[], DAVResponse], sync: bool = False) -> DAVResponse:
        """The library's errors in postroom's words (the password never appears in them)."""
        try:
            return request()
        except dav_error.AuthorizationError as exc:
            if sync and (exc.preconditions or getattr(exc, "status", None) == 403):
                raise _SyncRefused(list(exc.preconditions or [])) from None
            raise AuthFailed(
                f"The DAV server at {self.url} refused the mailbox's credentials."
            ) from None
        except dav_error.RateLimitError:
            raise Transient(f"The DAV server at {self.url} asks to slow down.") from None
        except dav_error.DAVError as exc:
            raise Transient(f"The DAV server at {self.url} answered: {exc}") from None
        except OSError as exc:
            raise Unreachable(f"The DAV server at {self.url} cannot be reached: {exc}") from None
        except Exception as exc:  # the HTTP library's connection and timeout errors
            if type(exc).__module__.split(".")[0] in ("niquests", "requests", "urllib3_future"):
                raise Unreachable(
                    f"The DAV server at {self.url} cannot be reached: {type(exc).__name__}"
                ) from None
            raise

    def _check(self, response: DAVResponse, what: str) -> None:
        status = response.status
        if status < 300:
            return
        if status in (401, 403):
            raise AuthFailed(f"The DAV server refused to {what} {self.url} ({status}).")
        if status == 404:
            raise InvalidInput(
                f"{self.url} does not exist on the DAV server: check the DAV URL.",
                field="dav_url",
            )
        if status == 429 or status >= 500:
            raise Transient(f"The DAV server could not {what} {self.url} ({status}); later.")
        raise Transient(f"The DAV server refused to {what} {self.url} ({status}).")


class CardDavContacts(DavSource):
    kind: RecordKind = "contact"
    collection_type = f"{{{CARDDAV}}}addressbook"
    content_type = vcard.CONTENT_TYPE
    suffix = ".vcf"
    data_element = AddressData
    multiget = AddressbookMultiget

    def _record(self, href: str, etag: str, body: str) -> RemoteRecord:
        return RemoteRecord(href, etag, vcard.read(body))

    def _write(self, data: RecordData, uid: str, base: str | None) -> str:
        if not isinstance(data, ContactData):
            raise TypeError("a CardDAV address book holds contacts")
        return vcard.write(data, uid, base)


class CalDavEvents(DavSource):
    kind: RecordKind = "event"
    collection_type = f"{{{CALDAV}}}calendar"
    content_type = ical.CONTENT_TYPE
    suffix = ".ics"
    data_element = cdav.CalendarData
    multiget = cdav.CalendarMultiGet

    def _record(self, href: str, etag: str, body: str) -> RemoteRecord:
        return RemoteRecord(href, etag, ical.read(body))

    def _write(self, data: RecordData, uid: str, base: str | None) -> str:
        if not isinstance(data, EventData):
            raise TypeError("a CalDAV calendar holds events")
        return ical.write(data, uid, base)
