"""A local Gmail API (v1): users.getProfile, users.history.list (404 when the start history id
is older than the history kept), users.messages.list with page tokens, users.messages.get
with format=raw (base64url), users.messages.modify, users.messages.trash and
users.messages.send. Bearer tokens are checked against the local identity server.

Push: users.watch (a Cloud Pub/Sub topic, 7 days) and users.stop. The server also plays the
topic's push subscription: a delivery to a watched mailbox POSTs the Pub/Sub envelope
(message.data: base64 JSON of emailAddress and historyId) to `push_url`, with the OIDC token
Pub/Sub sends, signed by the identity server's published key.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .cloud import UserRoute
from .google_sync import GoogleSyncApi
from .http import Request, Response
from .notify import post

__all__ = ["GmailServer"]

USER = r"/gmail/v1/users/(?P<user>[^/]+)"
SYSTEM_LABELS = ("INBOX", "UNREAD", "STARRED", "IMPORTANT", "SENT", "DRAFT", "SPAM", "TRASH")


@dataclass
class GmailMessage:
    id: str
    raw: bytes
    labels: set[str]
    history_id: int


def _error(code: int, status: str, message: str) -> Response:
    return Response.json(
        {
            "error": {
                "code": code,
                "message": message,
                "status": status,
                "errors": [{"message": message, "domain": "global", "reason": status}],
            }
        },
        code,
    )


@dataclass
class GmailServer(GoogleSyncApi):  # People and Calendar: google_sync.py
    messages: dict[str, dict[str, GmailMessage]] = field(default_factory=dict)
    history: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # messageAdded
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # user -> id -> name
    oldest_history: int = 0  # history before this id is gone: 404
    sent: list[tuple[str, bytes]] = field(default_factory=list)
    _throttles: int = 0
    watches: dict[str, tuple[str, list[str], int]] = field(
        default_factory=dict
    )  # topic, labels, ms
    push_url: str | None = None  # the topic's push subscription endpoint (postroom's)
    push_audience: str | None = None  # the token's audience; default: push_url
    push_account: str = "gmail-push@project-1.iam.gserviceaccount.com"
    drop_pushes: bool = False  # Pub/Sub does not deliver (past one a second, or an outage)
    pushes: list[int] = field(default_factory=list)  # postroom's answers

    def __post_init__(self) -> None:
        self._history_id = 1000
        super().__post_init__()

    def _routes(self) -> list[UserRoute]:
        return [
            ("GET", USER + r"/profile", self._profile),
            ("GET", USER + r"/labels", self._labels),
            ("POST", USER + r"/labels", self._create_label),
            ("GET", USER + r"/history", self._history),
            ("GET", USER + r"/messages", self._list),
            ("GET", USER + r"/messages/(?P<id>[^/]+)", self._get),
            ("POST", USER + r"/messages/(?P<id>[^/]+)/modify", self._modify),
            ("POST", USER + r"/messages/(?P<id>[^/]+)/trash", self._trash),
            ("POST", USER + r"/messages/send", self._send),
            ("POST", USER + r"/watch", self._watch),
            ("POST", USER + r"/stop", self._stop),
            *self._sync_routes(),
        ]

    # ------------------------------------------------------------------ control

    def deliver(self, user: str, raws: list[bytes]) -> list[str]:
        ids = []
        with self._lock:
            for raw in raws:
                self._history_id += 1
                message = GmailMessage(
                    secrets.token_hex(8), raw, {"INBOX", "UNREAD"}, self._history_id
                )
                self.messages.setdefault(user, {})[message.id] = message
                self.history.setdefault(user, []).append((self._history_id, message.id))
                ids.append(message.id)
            latest = self._history_id
        if ids:
            self.publish(user, latest)
        return ids

    def publish(self, user: str, history_id: int, token: str | None = None) -> int:
        """Pub/Sub pushes one change of a watched mailbox; returns postroom's status (or -1
        when nothing was pushed). `token` replaces the genuine OIDC token."""
        if user not in self.watches or self.push_url is None or self.drop_pushes:
            return -1
        data = json.dumps({"emailAddress": user, "historyId": history_id}).encode()
        envelope = {
            "message": {
                "data": base64.b64encode(data).decode(),
                "messageId": str(secrets.randbelow(10**15)),
                "publishTime": datetime.now(UTC).isoformat(),
            },
            "subscription": "projects/project-1/subscriptions/postroom-push",
        }
        if token is None:
            audience = self.push_audience or self.push_url
            token = self.identity.push_token(audience, self.push_account)
        status = post(self.push_url, envelope, headers={"Authorization": f"Bearer {token}"})[0]
        self.pushes.append(status)
        return status

    def forget_history(self) -> None:
        """History ids older than now are no longer kept (Gmail keeps about a week)."""
        self.oldest_history = self._history_id + 1

    def throttle(self, times: int) -> None:
        self._throttles += times

    def with_label(self, user: str, label: str) -> list[GmailMessage]:
        return [m for m in self.messages.get(user, {}).values() if label in m.labels]

    # -------------------------------------------------------------- machinery

    def _auth(self, request: Request) -> str | Response:
        if self._throttles:
            self._throttles -= 1
            response = _error(429, "RESOURCE_EXHAUSTED", "User-rate limit exceeded.")
            response.headers["Retry-After"] = "1"
            return response
        token = self.identity.account_of(request.bearer)
        if token is None:
            response = _error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
            return response
        user = request.params.get("user", "me")  # People and Calendar name no user
        account = token.account or user
        if user not in ("me", account):
            return _error(403, "PERMISSION_DENIED", "Delegation denied for " + account)
        return account

    def _message(self, user: str, message_id: str) -> GmailMessage | Response:
        message = self.messages.get(user, {}).get(message_id)
        if message is None:
            return _error(404, "NOT_FOUND", "Requested entity was not found.")
        return message

    @staticmethod
    def _page(items: list[Any], token: str | None, size: int) -> tuple[list[Any], str | None]:
        start = int(token or 0)
        rest = str(start + size) if start + size < len(items) else None
        return items[start : start + size], rest

    # ---------------------------------------------------------------- endpoints

    def _profile(self, request: Request, user: str) -> Response:
        total = len(self.messages.get(user, {}))
        return Response.json(
            {
                "emailAddress": user,
                "messagesTotal": total,
                "threadsTotal": total,
                "historyId": str(self._history_id),
            }
        )

    def _labels(self, request: Request, user: str) -> Response:
        system = [{"id": n, "name": n, "type": "system"} for n in SYSTEM_LABELS]
        own = [{"id": i, "name": n, "type": "user"} for i, n in self.labels.get(user, {}).items()]
        return Response.json({"labels": system + own})

    def _create_label(self, request: Request, user: str) -> Response:
        name = str(request.json()["name"])
        if name in SYSTEM_LABELS or name in self.labels.get(user, {}).values():
            return _error(409, "ALREADY_EXISTS", "Label name exists or conflicts")
        label_id = f"Label_{len(self.labels.get(user, {})) + 1}"
        self.labels.setdefault(user, {})[label_id] = name
        return Response.json({"id": label_id, "name": name, "type": "user"})

    def label_named(self, user: str, name: str) -> str | None:
        found = [i for i, n in self.labels.get(user, {}).items() if n == name]
        return found[0] if found else None

    def _history(self, request: Request, user: str) -> Response:
        start = int(request.query.get("startHistoryId", "0"))
        if start < self.oldest_history:
            return _error(404, "NOT_FOUND", "Requested entity was not found.")
        label = request.query.get("labelId")
        with self._lock:
            records = []
            for history_id, message_id in self.history.get(user, []):
                message = self.messages.get(user, {}).get(message_id)
                if history_id <= start or message is None:
                    continue
                if label and label not in message.labels:
                    continue
                entry = {
                    "id": message.id,
                    "threadId": message.id,
                    "labelIds": sorted(message.labels),
                }
                records.append(
                    {
                        "id": str(history_id),
                        "messages": [entry],
                        "messagesAdded": [{"message": entry}],
                    }
                )
        page, rest = self._page(records, request.query.get("pageToken"), self.page_size)
        body: dict[str, Any] = {"history": page, "historyId": str(self._history_id)}
        if rest:
            body["nextPageToken"] = rest
        return Response.json(body)

    def _list(self, request: Request, user: str) -> Response:
        label = request.query.get("labelIds")
        unread = "is:unread" in request.query.get("q", "")
        with self._lock:
            found = [
                {"id": m.id, "threadId": m.id}
                for m in sorted(self.messages.get(user, {}).values(), key=lambda m: -m.history_id)
                if (label is None or label in m.labels) and (not unread or "UNREAD" in m.labels)
            ]
        page, rest = self._page(found, request.query.get("pageToken"), self.page_size)
        body: dict[str, Any] = {"resultSizeEstimate": len(found)}
        if page:
            body["messages"] = page
        if rest:
            body["nextPageToken"] = rest
        return Response.json(body)

    def _get(self, request: Request, user: str) -> Response:
        message = self._message(user, request.params["id"])
        if isinstance(message, Response):
            return message
        body: dict[str, Any] = {
            "id": message.id,
            "threadId": message.id,
            "labelIds": sorted(message.labels),
            "historyId": str(message.history_id),
            "sizeEstimate": len(message.raw),
        }
        if request.query.get("format") == "raw":
            body["raw"] = base64.urlsafe_b64encode(message.raw).decode()
        return Response.json(body)

    def _modify(self, request: Request, user: str) -> Response:
        with self._lock:
            message = self._message(user, request.params["id"])
            if isinstance(message, Response):
                return message
            change = request.json()
            known = set(SYSTEM_LABELS) | set(self.labels.get(user, {}))
            if not set(change.get("addLabelIds", [])) <= known:
                return _error(400, "INVALID_ARGUMENT", "Invalid label: " + str(change))
            message.labels |= set(change.get("addLabelIds", []))
            message.labels -= set(change.get("removeLabelIds", []))
        return Response.json({"id": message.id, "labelIds": sorted(message.labels)})

    def _trash(self, request: Request, user: str) -> Response:
        with self._lock:
            message = self._message(user, request.params["id"])
            if isinstance(message, Response):
                return message
            message.labels = (message.labels - {"INBOX", "UNREAD"}) | {"TRASH"}
        return Response.json({"id": message.id, "labelIds": sorted(message.labels)})

    def _watch(self, request: Request, user: str) -> Response:
        body = request.json()
        topic = str(body.get("topicName", ""))
        if not re.fullmatch(r"projects/[^/]+/topics/[^/]+", topic):
            return _error(
                400, "INVALID_ARGUMENT", "Invalid topicName does not match projects/*/topics/*"
            )
        expiration = int(time.time() * 1000) + 7 * 86_400_000
        self.watches[user] = (topic, list(body.get("labelIds", [])), expiration)
        return Response.json({"historyId": str(self._history_id), "expiration": str(expiration)})

    def _stop(self, request: Request, user: str) -> Response:
        self.watches.pop(user, None)
        return Response(204)

    def _send(self, request: Request, user: str) -> Response:
        raw = base64.urlsafe_b64decode(request.json()["raw"] + "==")
        with self._lock:
            self._history_id += 1
            message = GmailMessage(secrets.token_hex(8), raw, {"SENT"}, self._history_id)
            self.messages.setdefault(user, {})[message.id] = message
            self.sent.append((user, raw))
        return Response.json({"id": message.id, "threadId": message.id, "labelIds": ["SENT"]})
