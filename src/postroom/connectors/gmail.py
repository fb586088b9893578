"""The Gmail API: history.list from the stored history id (the cursor; a 404 means the
history is gone and the inbox is listed in full, dedupe by message id keeps it exact),
messages.get with format=raw, label changes after commit, and messages.send. See base.py."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from postroom.connectors.base import AfterImport, Cursor, Listing, RemoteMessage
from postroom.connectors.bcc import with_bcc
from postroom.connectors.cloud_http import ApiClient
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.domain.settings import AfterImportKind

USER = "/gmail/v1/users/me"
PAGE_SIZE = 500


def gmail_key(message_id: str) -> str:
    return f"gmail:{message_id}"


class GmailConnector:
    def __init__(self, endpoint: Endpoint, credentials: Credentials) -> None:
        self.api = ApiClient(endpoint, credentials, "Gmail")
        self.label_ids: dict[str, str] = {}

    def _pages(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]] | None:
        """Every page of a listing, or None when the server says 404 (history too old)."""
        pages, token = [], None
        while True:
            query = params | ({"pageToken": token} if token else {})
            response = self.api.request("GET", USER + path, params=query, allow=(404,))
            if response.status_code == 404:
                return None
            page = response.json()
            pages.append(page)
            token = page.get("nextPageToken")
            if not token:
                return pages

    def list_waiting(self, cursor: Cursor, action: AfterImport) -> Listing:
        label = "INBOX" if cursor.folder.upper() == "INBOX" else cursor.folder
        unread = action.kind is AfterImportKind.MARK_READ
        if cursor.token:
            params = {
                "startHistoryId": cursor.token,
                "labelId": label,
                "historyTypes": "messageAdded",
                "maxResults": PAGE_SIZE,
            }
            pages = self._pages("/history", params)
            if pages is not None:
                keys = [
                    gmail_key(added["message"]["id"])
                    for page in pages
                    for record in page.get("history", [])
                    for added in record.get("messagesAdded", [])
                    if not unread or "UNREAD" in added["message"].get("labelIds", [])
                ]
                latest = pages[-1].get("historyId") or cursor.token
                return Listing(list(dict.fromkeys(keys)), Cursor(cursor.folder, token=latest))
        # First run, or the history is gone: everything in the label, newest history id first.
        latest = self.api.request("GET", USER + "/profile").json()["historyId"]
        params = {"labelIds": label, "maxResults": PAGE_SIZE} | (
            {"q": "is:unread"} if unread else {}
        )
        pages = self._pages("/messages", params) or []
        ids = [m["id"] for page in pages for m in page.get("messages", [])]
        keys = [gmail_key(i) for i in reversed(ids)]  # Gmail lists newest first
        return Listing(keys, Cursor(cursor.folder, token=str(latest)))

    def folder_status(self, folder: str) -> dict[str, int]:
        """The account's messagesTotal (Gmail counts per account), for the gap check."""
        body = self.api.request("GET", USER + "/profile").json()
        return {"messages_total": int(body.get("messagesTotal", 0))}

    def fetch(self, keys: Sequence[str]) -> list[RemoteMessage]:
        found = []
        for key in keys:
            url = f"{USER}/messages/{key.split(':', 1)[1]}"
            response = self.api.request("GET", url, params={"format": "raw"}, allow=(404,))
            if response.status_code != 404:
                body = response.json()
                raw = body["raw"]
                found.append(
                    RemoteMessage(
                        key,
                        base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)),
                        _arrival(body.get("internalDate")),
                    )
                )
        return found

    def acknowledge(self, keys: Sequence[str], action: AfterImport) -> None:
        for key in keys:
            url = f"{USER}/messages/{key.split(':', 1)[1]}"
            if action.kind is AfterImportKind.MARK_READ:
                self.api.request(
                    "POST", url + "/modify", json={"removeLabelIds": ["UNREAD"]}, allow=(404,)
                )
            elif action.kind is AfterImportKind.DELETE:  # to the bin, as Gmail's own delete does
                self.api.request("POST", url + "/trash", allow=(404,))
            elif action.kind is AfterImportKind.MOVE:
                assert action.folder
                change = {
                    "addLabelIds": [self._label_id(action.folder)],
                    "removeLabelIds": ["INBOX"],
                }
                self.api.request("POST", url + "/modify", json=change, allow=(404,))

    def _label_id(self, name: str) -> str:
        """modify takes label ids: find the label by name or id, or make it."""
        if not self.label_ids:
            labels = self.api.request("GET", USER + "/labels").json().get("labels", [])
            self.label_ids = {label["name"].lower(): label["id"] for label in labels}
            self.label_ids |= {label["id"].lower(): label["id"] for label in labels}
        if name.lower() not in self.label_ids:
            made = self.api.request("POST", USER + "/labels", json={"name": name}).json()
            self.label_ids[name.lower()] = made["id"]
        return self.label_ids[name.lower()]

    def probe(self, folder: str) -> str:
        """For the connection test: the account as Gmail sees it."""
        profile = self.api.request("GET", USER + "/profile").json()
        return f"{profile.get('emailAddress')}: {profile.get('messagesTotal')} messages"

    def send(self, raw: bytes, recipients: Sequence[str]) -> None:
        encoded = base64.urlsafe_b64encode(with_bcc(raw, recipients)).decode()
        self.api.request("POST", USER + "/messages/send", json={"raw": encoded}, retries=0)

    # ------------------------------------------------------------ push (users.watch)

    def watch(self, topic: str, folder: str) -> tuple[str, datetime]:
        """Gmail publishes a change of this label to the Cloud Pub/Sub topic; the watch lasts
        7 days. Returns the history id it starts from and when it expires."""
        label = "INBOX" if folder.upper() == "INBOX" else self._label_id(folder)
        body = {"topicName": topic, "labelIds": [label], "labelFilterBehavior": "INCLUDE"}
        answer = self.api.request("POST", USER + "/watch", json=body).json()
        expires = datetime.fromtimestamp(int(answer["expiration"]) / 1000, UTC)
        return str(answer["historyId"]), expires

    def stop(self) -> None:
        self.api.request("POST", USER + "/stop")

    def close(self) -> None:
        self.api.close()


def _arrival(millis: object) -> datetime | None:
    """Gmail's internalDate: when the message reached the mailbox, in epoch milliseconds."""
    try:
        return datetime.fromtimestamp(int(str(millis)) / 1000, UTC)
    except (TypeError, ValueError, OverflowError):
        return None
