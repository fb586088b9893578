"""Microsoft Graph mail: the messages delta query of one folder (its delta link is the
cursor), `$value` for the MIME, and mark read / move / delete by message id; sending with
sendMail in MIME form, which Graph saves to Sent Items. See base.py for the contract."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from postroom.connectors import shared_rights
from postroom.connectors.base import AfterImport, Cursor, Listing, RemoteMessage
from postroom.connectors.bcc import with_bcc
from postroom.connectors.cloud_http import ApiClient
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import AfterImportKind
from postroom.errors import PostroomError

PAGE_SIZE = 100
WELL_KNOWN = {"inbox", "archive", "deleteditems", "drafts", "junkemail", "sentitems"}
GONE = 410  # the delta token expired (SyncStateNotFound): start the delta query again


def graph_key(message_id: str) -> str:
    return f"graph:{message_id}"


def folder_name(folder: str) -> str:
    """IMAP's INBOX is Graph's well-known folder name inbox."""
    return "inbox" if folder.upper() == "INBOX" else folder


class GraphConnector:
    def __init__(self, endpoint: Endpoint, credentials: Credentials) -> None:
        self.api = ApiClient(endpoint, credentials, "Microsoft Graph")
        self.login = credentials.login
        self.user = f"/v1.0/users/{quote(credentials.login)}"
        self.folder_ids: dict[str, str] = {}
        self.delegate = credentials.delegate
        self._sending: bytes | None = None  # the MIME being sent, to name the right it needs
        if self.delegate is not None:
            self.api.explain = self._delegate_refused

    def _start(self, folder: str) -> str:
        return f"{self.user}/mailFolders/{quote(folder_name(folder))}/messages/delta?$select=isRead"

    def list_waiting(self, cursor: Cursor, action: AfterImport) -> Listing:
        url = cursor.token or self._start(cursor.folder)
        keys: list[str] = []
        headers = {"Prefer": f"odata.maxpagesize={PAGE_SIZE}"}
        while True:
            response = self.api.request("GET", url, headers=headers, allow=(GONE,))
            if response.status_code == GONE:
                url, keys = self._start(cursor.folder), []
                continue
            page = response.json()
            for item in page.get("value", []):
                if "@removed" in item:
                    continue
                if action.kind is AfterImportKind.MARK_READ and item.get("isRead"):
                    continue
                keys.append(graph_key(item["id"]))
            if "@odata.nextLink" in page:
                url = page["@odata.nextLink"]
                continue
            delta = page.get("@odata.deltaLink")
            return Listing(list(dict.fromkeys(keys)), Cursor(cursor.folder, token=delta))

    def folder_status(self, folder: str) -> dict[str, int]:
        """The folder's own counts (totalItemCount, unreadItemCount), for the gap check."""
        url = f"{self.user}/mailFolders/{quote(folder_name(folder))}"
        body = self.api.request("GET", url).json()
        return {
            "messages": int(body.get("totalItemCount", 0)),
            "unread": int(body.get("unreadItemCount", 0)),
        }

    def _message(self, key: str) -> str:
        return f"{self.user}/messages/{quote(key.split(':', 1)[1])}"

    def fetch(self, keys: Sequence[str]) -> list[RemoteMessage]:
        found = []
        for key in keys:
            response = self.api.request("GET", self._message(key) + "/$value", allow=(404,))
            if response.status_code != 404:  # deleted meanwhile: nothing to import
                found.append(RemoteMessage(key, response.content))
        return found

    def acknowledge(self, keys: Sequence[str], action: AfterImport) -> None:
        for key in keys:
            url = self._message(key)
            if action.kind is AfterImportKind.MARK_READ:
                self.api.request("PATCH", url, json={"isRead": True}, allow=(404,))
            elif action.kind is AfterImportKind.DELETE:
                self.api.request("DELETE", url, allow=(404,))
            elif action.kind is AfterImportKind.MOVE:
                assert action.folder
                body = {"destinationId": self._folder_id(action.folder)}
                self.api.request("POST", url + "/move", json=body, allow=(404,))

    def _folder_id(self, name: str) -> str:
        """A well-known name as it is; another folder by display name, made if missing."""
        if name.lower() in WELL_KNOWN:
            return name.lower()
        if name not in self.folder_ids:
            literal = name.replace("'", "''")  # an OData string literal
            found = self.api.request(
                "GET", f"{self.user}/mailFolders", params={"$filter": f"displayName eq '{literal}'"}
            ).json()["value"]
            if not found:
                made = self.api.request(
                    "POST", f"{self.user}/mailFolders", json={"displayName": name}
                )
                found = [made.json()]
            self.folder_ids[name] = found[0]["id"]
        return self.folder_ids[name]

    def probe(self, folder: str) -> str:
        """For the connection test: the folder as Graph sees it."""
        url = f"{self.user}/mailFolders/{quote(folder_name(folder))}"
        info = self.api.request("GET", url).json()
        return f"{info.get('displayName')}: {info.get('totalItemCount')} messages"

    def send(self, raw: bytes, recipients: Sequence[str]) -> None:
        """Through the mailbox's own /users/{address}/sendMail, so Graph keeps the Sent copy
        in that mailbox, a shared one's included (not in a delegate's own Sent Items)."""
        self._sending = raw
        try:
            self.api.request(
                "POST",
                f"{self.user}/sendMail",
                content=base64.b64encode(with_bcc(raw, recipients)),
                headers={"Content-Type": "text/plain"},
                retries=0,
            )
        finally:
            self._sending = None

    def _delegate_refused(self, response: httpx.Response) -> PostroomError | None:
        """A delegate's refusal on a shared mailbox, with the right that is missing."""
        if response.status_code != 403 or self.delegate is None:
            return None
        try:
            code = str((json.loads(response.content).get("error") or {}).get("code", ""))
        except (ValueError, AttributeError):
            return None
        if code == "ErrorSendAsDenied":
            on_behalf = self._sending is not None and shared_rights.sends_on_behalf(self._sending)
            return shared_rights.send_right(self.login, self.delegate, on_behalf)
        if code == "ErrorAccessDenied":
            doing = "send through it" if self._sending is not None else "read it"
            return shared_rights.full_access(self.login, self.delegate, doing)
        return None

    # ------------------------------------------------ change notifications (push)

    def subscribe(
        self, folder: str, notification_url: str, client_state: str, expires: datetime
    ) -> tuple[str, datetime]:
        """A subscription to new messages in the folder. Graph first POSTs a validationToken
        to the URL, which must echo it within 10 s; only then does this call answer."""
        body = {
            "changeType": "created",
            "notificationUrl": notification_url,
            "lifecycleNotificationUrl": notification_url,
            "resource": f"users/{self.login}/mailFolders('{folder_name(folder)}')/messages",
            "expirationDateTime": _iso(expires),
            "clientState": client_state,
        }
        made = self.api.request("POST", "/v1.0/subscriptions", json=body).json()
        return str(made["id"]), _parse(made["expirationDateTime"])

    def renew(self, subscription_id: str, expires: datetime) -> datetime | None:
        """A later expiry (also what reauthorization needs); None when Graph no longer has it."""
        response = self.api.request(
            "PATCH",
            f"/v1.0/subscriptions/{quote(subscription_id)}",
            json={"expirationDateTime": _iso(expires)},
            allow=(404,),
        )
        if response.status_code == 404:
            return None
        return _parse(response.json()["expirationDateTime"])

    def unsubscribe(self, subscription_id: str) -> None:
        self.api.request("DELETE", f"/v1.0/subscriptions/{quote(subscription_id)}", allow=(404,))

    def close(self) -> None:
        self.api.close()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _parse(text: str) -> datetime:
    """Graph's 2026-12-09T03:00:00.0000000Z (seven digits, which Python does not read)."""
    return datetime.fromisoformat(text.rstrip("Z").split(".")[0]).replace(tzinfo=UTC)
