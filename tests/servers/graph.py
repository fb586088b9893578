"""A local Microsoft Graph mail API (v1.0): the messages delta query of a mail folder with
@odata.nextLink paging and an @odata.deltaLink, `$value` for the MIME, PATCH isRead, move,
DELETE and sendMail (JSON with saveToSentItems, or base64 MIME as text/plain). Bearer tokens
are checked against the local identity server: 401 InvalidAuthenticationToken when expired.
`throttle(n, status, retry_after)` answers the next n calls with 429 or 503 and Retry-After.

Shared mailboxes: `grant(shared, delegate, "full-access", "send-as", "send-on-behalf")` gives
a person Exchange's mailbox rights. A delegated token reaches /users/{shared}/… only with Full
Access and the .Shared scope for what it does (Mail.Read.Shared or Mail.ReadWrite.Shared to
read, ReadWrite to change, Mail.Send.Shared to send), else 403 ErrorAccessDenied; sendMail
from the shared address needs Send As, or Send on Behalf (Sender: the delegate, stamped when
missing), else 403 ErrorSendAsDenied. The Sent copy goes to the mailbox in the path, as
Graph's "Sent Items behavior" says; `sent_as` records (mailbox, signed in as, how).

Change notifications: POST /subscriptions validates the notification URL first (it must echo
a validationToken as text/plain with 200 within 10 s), refuses an expiry past 10,080 minutes,
PATCH renews, DELETE removes. A delivery to a subscribed folder POSTs a notification with the
subscription's clientState to postroom; `lifecycle(id, event)` sends a lifecycle notification.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from urllib.parse import quote, urlencode, urlsplit

from .cloud import UserRoute
from .graph_sync import GraphSyncApi
from .http import Request, Response
from .identity import Token
from .notify import post

__all__ = ["GraphServer"]

USER = r"/v1\.0/(?:users/(?P<user>[^/]+)|me)"
WELL_KNOWN = {"inbox", "archive", "deleteditems", "drafts", "junkemail", "sentitems"}


@dataclass
class GraphMessage:
    id: str
    raw: bytes
    folder: str = "inbox"
    is_read: bool = False
    changed: int = 0  # the change number of its last change


MAX_MINUTES = 10_080  # the longest a subscription to messages may last
RESOURCE = re.compile(r"(?:users/(?P<user>[^/]+)|me)/mailFolders\('(?P<folder>[^']+)'\)/messages")


@dataclass
class GraphSubscription:
    id: str
    user: str
    folder: str
    notification_url: str
    lifecycle_url: str | None
    client_state: str
    expires: datetime

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "resource": f"users/{self.user}/mailFolders('{self.folder}')/messages",
            "changeType": "created",
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": _iso(self.expires),
        }


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


@dataclass
class GraphServer(GraphSyncApi):  # contacts and calendar events: graph_sync.py
    messages: dict[str, dict[str, GraphMessage]] = field(default_factory=dict)  # user -> id
    removed: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # (change, id)
    sent: list[tuple[str, bytes, bool]] = field(default_factory=list)  # user, MIME, saved
    calls: list[tuple[float, str, str, dict[str, str]]] = field(default_factory=list)
    folders: dict[str, dict[str, str]] = field(default_factory=dict)  # user -> id -> name
    refuse_tokens: bool = False  # a tenant policy change: every token is refused
    _throttles: list[tuple[int, str]] = field(default_factory=list)
    subscriptions: dict[str, GraphSubscription] = field(default_factory=dict)
    validations: list[tuple[str, int]] = field(default_factory=list)  # url, status answered
    notifications: list[tuple[str, int]] = field(default_factory=list)  # subscription, status
    drop_notifications: bool = False  # Graph fails to notify (postroom must recover)
    delegates: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # shared -> who
    sent_as: list[tuple[str, str, str]] = field(default_factory=list)  # mailbox, by, how

    def __post_init__(self) -> None:
        self._change = 0
        super().__post_init__()

    def _routes(self) -> list[UserRoute]:
        return [
            ("GET", USER + r"/mailFolders", self._folders),
            ("POST", USER + r"/mailFolders", self._create_folder),
            ("GET", USER + r"/mailFolders/(?P<folder>[^/]+)", self._folder),
            ("GET", USER + r"/mailFolders/(?P<folder>[^/]+)/messages/delta", self._delta),
            ("GET", USER + r"/messages/(?P<id>[^/]+)/\$value", self._value),
            ("PATCH", USER + r"/messages/(?P<id>[^/]+)", self._patch),
            ("POST", USER + r"/messages/(?P<id>[^/]+)/move", self._move),
            ("DELETE", USER + r"/messages/(?P<id>[^/]+)", self._delete),
            ("POST", USER + r"/sendMail", self._send),
            ("POST", r"/v1\.0/subscriptions", self._subscribe),
            ("PATCH", r"/v1\.0/subscriptions/(?P<sid>[^/]+)", self._renew),
            ("DELETE", r"/v1\.0/subscriptions/(?P<sid>[^/]+)", self._unsubscribe),
            *self._sync_routes(),
        ]

    # ------------------------------------------------------------------ control

    def deliver(self, user: str, raws: list[bytes]) -> list[str]:
        ids = []
        with self._lock:
            for raw in raws:
                self._change += 1
                message = GraphMessage(
                    "AAMk" + secrets.token_urlsafe(12), raw, changed=self._change
                )
                self.messages.setdefault(user, {})[message.id] = message
                ids.append(message.id)
        for message_id in ids:
            self._notify(user, "inbox", message_id)
        return ids

    def lifecycle(self, subscription_id: str, event: str) -> int:
        """A lifecycle notification (reauthorizationRequired, subscriptionRemoved, missed);
        a removed subscription is gone. Returns postroom's status."""
        subscription = self.subscriptions[subscription_id]
        if event == "subscriptionRemoved":
            del self.subscriptions[subscription_id]
        note = {
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": _iso(subscription.expires),
            "tenantId": "contoso-tenant",
            "clientState": subscription.client_state,
            "lifecycleEvent": event,
        }
        url = subscription.lifecycle_url or subscription.notification_url
        return post(url, {"value": [note]})[0]

    def expire(self, subscription_id: str) -> None:
        """The subscription ran past its expiry: Graph deletes it."""
        del self.subscriptions[subscription_id]

    def _notify(self, user: str, folder: str, message_id: str) -> None:
        now = datetime.now(UTC)
        for subscription in list(self.subscriptions.values()):
            if subscription.user != user or subscription.folder != folder:
                continue
            if subscription.expires <= now or self.drop_notifications:
                continue
            resource = f"Users/{user}/Messages/{message_id}"
            note = {
                "subscriptionId": subscription.id,
                "subscriptionExpirationDateTime": _iso(subscription.expires),
                "changeType": "created",
                "resource": resource,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Message",
                    "@odata.id": resource,
                    "id": message_id,
                },
                "clientState": subscription.client_state,
                "tenantId": "contoso-tenant",
            }
            status = post(subscription.notification_url, {"value": [note]})[0]
            self.notifications.append((subscription.id, status))

    def in_folder(self, user: str, folder: str = "inbox") -> list[GraphMessage]:
        with self._lock:
            return [m for m in self.messages.get(user, {}).values() if m.folder == folder]

    def folder_named(self, user: str, name: str) -> str | None:
        """The id of a folder made through the API, by its display name."""
        found = [i for i, n in self.folders.get(user, {}).items() if n == name]
        return found[0] if found else None

    def throttle(self, times: int, status: int = 429, retry_after: str = "1") -> None:
        self._throttles.extend([(status, retry_after)] * times)

    # -------------------------------------------------------------- machinery

    def _auth(self, request: Request) -> str | Response:
        self.calls.append((time.monotonic(), request.method, request.path, request.query))
        if self._throttles:
            status, retry_after = self._throttles.pop(0)
            code = "TooManyRequests" if status == 429 else "ServiceUnavailable"
            return Response.json(
                {"error": {"code": code, "message": "Please retry after the given time."}},
                status,
                **{"Retry-After": retry_after},
            )
        token = self.identity.account_of(request.bearer)
        user = request.params.get("user") or (token.account if token else None)
        if token is None or user is None or self.refuse_tokens:
            return Response.json(
                {
                    "error": {
                        "code": "InvalidAuthenticationToken",
                        "message": "Access token has expired or is not yet valid.",
                    }
                },
                401,
                **{"WWW-Authenticate": 'Bearer realm="", error="invalid_token"'},
            )
        return self._delegate_refusal(request, token, user) or user

    # ------------------------------------------------------------ shared mailboxes

    def grant(self, shared: str, delegate: str, *rights: str) -> None:
        """Exchange mailbox rights: full-access, send-as, send-on-behalf."""
        self.delegates.setdefault(shared, {}).setdefault(delegate, set()).update(rights)

    def _delegate_refusal(self, request: Request, token: Token, user: str) -> Response | None:
        """Another person's mailbox: the delegate's .Shared scope for the call, and Full
        Access; app-only tokens reach every mailbox of the tenant."""
        if token.account is None or token.account == user:
            return None
        scopes = {s.rsplit("/", 1)[-1] for s in token.scope.split()}
        if request.path.endswith("/sendMail"):
            needed = {"Mail.Send.Shared"}
        elif request.method == "GET":
            needed = {"Mail.Read.Shared", "Mail.ReadWrite.Shared"}
        else:
            needed = {"Mail.ReadWrite.Shared"}
        rights = self.delegates.get(user, {}).get(token.account, set())
        if scopes & needed and "full-access" in rights:
            return None
        return Response.json(
            {
                "error": {
                    "code": "ErrorAccessDenied",
                    "message": "Access is denied. Check credentials and try again.",
                }
            },
            403,
        )

    def _send_as(self, request: Request, user: str, raw: bytes) -> str | Response:
        """How the mail goes out (own, send-as, send-on-behalf: Exchange stamps Sender when
        it is missing), or the refusal of a From the signed-in person has no Send As or Send
        on Behalf right on."""
        token = self.identity.account_of(request.bearer)
        account = token.account if token else None
        headers = BytesHeaderParser().parsebytes(raw)
        sender = parseaddr(str(headers.get("From", "")))[1].lower() or user
        if account is None or sender == account:
            return "own"
        rights = self.delegates.get(sender, {}).get(account, set())
        stated = parseaddr(str(headers.get("Sender", "")))[1].lower()
        if stated == account and "send-on-behalf" in rights:
            return "send-on-behalf"
        if not stated and "send-as" in rights:
            return "send-as"
        if not stated and "send-on-behalf" in rights:
            return "send-on-behalf"
        return Response.json(
            {
                "error": {
                    "code": "ErrorSendAsDenied",
                    "message": "The user account which was used to submit this request does "
                    "not have the right to send mail on behalf of the specified sending "
                    "account. Cannot submit message.",
                }
            },
            403,
        )

    def _signed_in(self, request: Request) -> str:
        token = self.identity.account_of(request.bearer)
        return (token.account if token else None) or "app-only"

    def _find(self, user: str, message_id: str) -> GraphMessage | None:
        return self.messages.get(user, {}).get(message_id)

    @staticmethod
    def _not_found() -> Response:
        return Response.json(
            {
                "error": {
                    "code": "ErrorItemNotFound",
                    "message": "The specified object was not found in the store.",
                }
            },
            404,
        )

    # ---------------------------------------------------------------- endpoints

    def _folders(self, request: Request, user: str) -> Response:
        wanted = request.query.get("$filter", "")
        name = wanted.partition("displayName eq '")[2][:-1].replace("''", "'") if wanted else None
        value = [
            {"id": i, "displayName": n}
            for i, n in self.folders.get(user, {}).items()
            if name is None or n == name
        ]
        return Response.json({"value": value})

    def _create_folder(self, request: Request, user: str) -> Response:
        name = str(request.json()["displayName"])
        folder_id = "AAMkF" + secrets.token_urlsafe(8)
        self.folders.setdefault(user, {})[folder_id] = name
        return Response.json({"id": folder_id, "displayName": name}, 201)

    def _folder(self, request: Request, user: str) -> Response:
        folder = request.params["folder"].lower()
        inside = [m for m in self.messages.get(user, {}).values() if m.folder == folder]
        return Response.json(
            {
                "id": folder,
                "displayName": folder.title(),
                "totalItemCount": len(inside),
                "unreadItemCount": sum(not m.is_read for m in inside),
            }
        )

    def _delta(self, request: Request, user: str) -> Response:
        folder = request.params["folder"].lower()
        since, offset = 0, 0
        if "$deltatoken" in request.query:
            since = int(request.query["$deltatoken"])
        if "$skiptoken" in request.query:
            since_text, _, offset_text = request.query["$skiptoken"].partition(".")
            since, offset = int(since_text), int(offset_text)
        size = self.page_size
        prefer = request.headers.get("prefer", "")
        if "odata.maxpagesize=" in prefer:
            size = min(size, int(prefer.split("odata.maxpagesize=")[1].split(",")[0]))
        with self._lock:
            now = self._change
            items: list[dict[str, object]] = [
                {
                    "@odata.type": "#microsoft.graph.message",
                    "@odata.etag": f'W/"{m.changed}"',
                    "id": m.id,
                    "isRead": m.is_read,
                }
                for m in sorted(self.messages.get(user, {}).values(), key=lambda m: m.changed)
                if m.folder == folder and m.changed > since
            ]
            if since:
                items += [
                    {
                        "@odata.type": "#microsoft.graph.message",
                        "id": i,
                        "@removed": {"reason": "deleted"},
                    }
                    for change, i in self.removed.get(user, [])
                    if change > since
                ]
        page = items[offset : offset + size]
        link = f"{self.base_url}/v1.0/users/{quote(user)}/mailFolders/{folder}/messages/delta"
        body: dict[str, object] = {"@odata.context": f"{self.base_url}/v1.0/$metadata#Collection"}
        if offset + size < len(items):
            body["@odata.nextLink"] = f"{link}?$skiptoken={since}.{offset + size}"
        else:
            body["@odata.deltaLink"] = f"{link}?$deltatoken={now}"
        body["value"] = page
        return Response.json(body)

    def _value(self, request: Request, user: str) -> Response:
        message = self._find(user, request.params["id"])
        if message is None:
            return self._not_found()
        return Response(200, message.raw, {"Content-Type": "text/plain"})

    def _touch(self, message: GraphMessage) -> None:
        self._change += 1
        message.changed = self._change

    def _patch(self, request: Request, user: str) -> Response:
        with self._lock:
            message = self._find(user, request.params["id"])
            if message is None:
                return self._not_found()
            is_read = bool(request.json().get("isRead", message.is_read))
            if is_read != message.is_read:
                message.is_read = is_read
                self._touch(message)
        return Response.json({"id": message.id, "isRead": message.is_read})

    def _gone(self, user: str, message: GraphMessage) -> None:
        self._change += 1
        del self.messages[user][message.id]
        self.removed.setdefault(user, []).append((self._change, message.id))

    def _move(self, request: Request, user: str) -> Response:
        destination = str(request.json().get("destinationId", ""))
        if destination.lower() in WELL_KNOWN:
            destination = destination.lower()
        elif destination not in self.folders.get(user, {}):
            return self._not_found()
        with self._lock:
            message = self._find(user, request.params["id"])
            if message is None:
                return self._not_found()
            self._gone(user, message)
            self._change += 1
            moved = GraphMessage(
                "AAMk" + secrets.token_urlsafe(12),
                message.raw,
                destination,
                message.is_read,
                self._change,
            )
            self.messages[user][moved.id] = moved
        return Response.json({"id": moved.id, "parentFolderId": destination}, 201)

    def _delete(self, request: Request, user: str) -> Response:
        with self._lock:
            message = self._find(user, request.params["id"])
            if message is None:
                return self._not_found()
            self._gone(user, message)
        return Response(204)

    @staticmethod
    def _invalid(message: str) -> Response:
        return Response.json({"error": {"code": "InvalidRequest", "message": message}}, 400)

    def _validated(self, url: str) -> bool:
        """Graph's handshake: POST ?validationToken=…; 200, text/plain, the token, in 10 s."""
        token = "Validation: Testing client application reachability " + secrets.token_hex(8)
        separator = "&" if urlsplit(url).query else "?"
        status, body, kind = post(
            url + separator + urlencode({"validationToken": token}), b"", timeout=10.0
        )
        self.validations.append((url, status))
        return status == 200 and kind.startswith("text/plain") and body.decode() == token

    def _expiry(self, text: object) -> datetime | Response:
        try:
            expires = datetime.fromisoformat(str(text).rstrip("Z").split(".")[0])
        except ValueError:
            return self._invalid("expirationDateTime is not a date.")
        expires = expires.replace(tzinfo=UTC)
        now = datetime.now(UTC)
        if expires <= now or expires > now + timedelta(minutes=MAX_MINUTES):
            return self._invalid("Subscription expiration can only be 10080 minutes in the future.")
        return expires

    def _subscribe(self, request: Request, user: str) -> Response:
        body = request.json()
        match = RESOURCE.fullmatch(str(body.get("resource", "")))
        if body.get("changeType") != "created" or match is None:
            return self._invalid("Only 'created' on a mail folder's messages is served here.")
        if (match["user"] or user) != user:
            return Response.json({"error": {"code": "ExtensionError", "message": "Denied"}}, 403)
        expires = self._expiry(body.get("expirationDateTime"))
        if isinstance(expires, Response):
            return expires
        client_state = str(body.get("clientState", ""))
        if len(client_state) > 128:
            return self._invalid("clientState is at most 128 characters.")
        urls = [str(body.get("notificationUrl", ""))]
        if body.get("lifecycleNotificationUrl"):
            urls.append(str(body["lifecycleNotificationUrl"]))
        for url in urls:  # Graph wants https; loopback http stands in for it in tests
            if not url.startswith(("https://", "http://127.0.0.1")) or not self._validated(url):
                return self._invalid(
                    "Subscription validation request failed. Notification endpoint must "
                    "respond with 200 OK to validation request."
                )
        subscription = GraphSubscription(
            id=secrets.token_hex(16),
            user=user,
            folder=match["folder"].lower(),
            notification_url=urls[0],
            lifecycle_url=urls[1] if len(urls) > 1 else None,
            client_state=client_state,
            expires=expires,
        )
        self.subscriptions[subscription.id] = subscription
        return Response.json(subscription.as_json(), 201)

    def _renew(self, request: Request, user: str) -> Response:
        subscription = self.subscriptions.get(request.params["sid"])
        if subscription is None or subscription.user != user:
            return Response.json(
                {"error": {"code": "ResourceNotFound", "message": "Subscription not found"}}, 404
            )
        expires = self._expiry(request.json().get("expirationDateTime"))
        if isinstance(expires, Response):
            return expires
        subscription.expires = expires
        return Response.json(subscription.as_json())

    def _unsubscribe(self, request: Request, user: str) -> Response:
        self.subscriptions.pop(request.params["sid"], None)
        return Response(204)

    def _send(self, request: Request, user: str) -> Response:
        if request.headers.get("content-type", "").startswith("text/plain"):
            raw, save = base64.b64decode(request.body), True  # MIME is always saved
        else:
            payload = request.json()
            message = payload.get("message") or {}
            raw = str(message.get("subject", "")).encode()
            save = payload.get("saveToSentItems", True) not in (False, "false")
        checked = self._send_as(request, user, raw)
        if isinstance(checked, Response):
            return checked
        self.sent_as.append((user, self._signed_in(request), checked))
        with self._lock:
            self.sent.append((user, raw, save))
            if save:
                self._change += 1
                copy = GraphMessage(
                    "AAMk" + secrets.token_urlsafe(12), raw, "sentitems", True, self._change
                )
                self.messages.setdefault(user, {})[copy.id] = copy
        return Response(202)
