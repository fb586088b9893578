"""Commit, then answer (DESIGN invariant 10): a route's transaction is committed before the first
byte of its answer leaves, so whatever a client does next sees what it was told happened."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from postroom.storage.db import default_engine
from tests.api.conftest import Api, make_user
from tests.api.test_api import desk, fetch
from tests.mailfactory import email_from
from tests.servers.dovecot import Dovecot


class Recorder:
    """The app, noting when an answer starts; the engine notes each commit in the same list."""

    def __init__(self, app: FastAPI, seen: list[str]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def noting(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.seen.append("answer")
            await send(message)

        await self.app(scope, receive, noting)


def test_the_routes_transaction_commits_before_the_answer_starts(app: FastAPI) -> None:
    token = make_user("root@example.test", admin=True)
    seen: list[str] = []
    event.listen(default_engine(), "commit", lambda _conn: seen.append("commit"))
    with TestClient(Recorder(app, seen)) as client:
        admin = Api(client, "root@example.test", token)
        seen.clear()
        made = admin.post("/workflows", json={"name": "Support", "steps": ["New", "Done"]})
        assert made.status_code == 201
    assert seen[-1] == "answer" and "commit" in seen, seen


@pytest.fixture
def live(app: FastAPI) -> Iterator[str]:
    """The app behind a real uvicorn on loopback: the client gets each answer the moment it is
    sent, as a browser or another product would."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)  # listening before the server runs: no waiting for it to start
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]})
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


def test_a_mailbox_made_and_removed_at_once_is_found_every_time(live: str) -> None:
    admin = {"Authorization": "Bearer " + make_user("root@example.test", admin=True)}
    with httpx.Client(base_url=live, headers=admin, timeout=30) as http:
        smtp = {"name": "out", "protocol": "smtp", "host": "127.0.0.1", "security": "none"}
        assert http.post("/servers", json=smtp).status_code == 201
        for n in range(10):
            address = f"desk{n}@example.test"
            body = {"address": address, "system": True, "outgoing": "out", "password": "pw"}
            assert http.post("/mailboxes", json=body).status_code == 201
            gone = http.delete(f"/mailboxes/{address}", params={"reason": "test"})
            assert gone.status_code == 204, (n, gone.text)


def _request_with_a_sender(admin: Api, dovecot: Dovecot) -> str:
    """A request opened by an email from a customer, and the admin's own mailbox to reply
    from; the request's API path is returned."""
    address = desk(admin, dovecot)
    smtp = {"name": "out", "protocol": "smtp", "host": "127.0.0.1", "security": "none"}
    assert admin.post("/servers", json=smtp).status_code == 201
    own = {"address": admin.email, "outgoing": "out", "password": "pw"}
    assert admin.post("/mailboxes", json=own).status_code == 201
    dovecot.deliver(address, [email_from("cust@example.org", "Printer on fire")])
    fetch()
    [request] = admin.get("/requests").json()["items"]
    return f"/requests/{request['id']}"


def test_a_replys_transaction_commits_before_its_202_starts(app: FastAPI, dovecot: Dovecot) -> None:
    token = make_user("root@example.test", admin=True)
    seen: list[str] = []
    event.listen(default_engine(), "commit", lambda _conn: seen.append("commit"))
    with TestClient(Recorder(app, seen)) as client:
        admin = Api(client, "root@example.test", token)
        path = _request_with_a_sender(admin, dovecot)
        seen.clear()
        queued = admin.post(path + "/reply", json={"body": "On its way."})
        assert queued.status_code == 202, queued.text
    assert seen[-1] == "answer" and "commit" in seen, seen


@pytest.mark.usefixtures("database_url")
def test_a_reply_is_in_the_thread_on_the_very_next_get_every_time(
    live: str, dovecot: Dovecot
) -> None:
    """Issue 12.6: the 202 of a reply means the reply is in the request's thread."""
    with httpx.Client(base_url=live.removesuffix("/api/v1"), timeout=30) as http:
        admin = Api(http, "root@example.test", make_user("root@example.test", admin=True))
        path = _request_with_a_sender(admin, dovecot)
        for n in range(10):
            queued = admin.post(path + "/reply", json={"body": f"Answer {n}."})
            assert queued.status_code == 202, (n, queued.text)
            thread = admin.get(path).json()["thread"]
            assert len(thread) == n + 2, (n, thread)
            last = thread[-1]
            assert (last["direction"], last["message_id"], last["status"]) == (
                "out",
                queued.json()["message_id"],
                "queued",
            ), n
            assert f"Answer {n}." in last["text"]
