"""IMAP IDLE watchers: one thread a mailbox holds IDLE and says when new mail arrives, so a
request exists within a second of delivery instead of a poll interval later. The watcher only
signals; fetching stays with the scheduler, so IDLE and polling never race."""

from __future__ import annotations

import contextlib
import imaplib
import logging
import threading
import time
from collections.abc import Callable

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy import Engine

from postroom.connectors.imap import ImapConnector
from postroom.errors import PostroomError
from postroom.services.credentials import credentials_of
from postroom.services.servers import endpoint_of
from postroom.storage.db import unit_of_work
from postroom.storage.models import Mailbox

log = logging.getLogger(__name__)

CHECK_SECONDS = 60.0
RENEW_SECONDS = 25 * 60.0  # RFC 2177: re-issue IDLE before the server's 30-minute timeout
RETRY_SECONDS = (5.0, 30.0, 120.0, 600.0)


class IdleWatchers:
    def __init__(self, engine: Engine, on_new_mail: Callable[[int], None]) -> None:
        self.engine = engine
        self.on_new_mail = on_new_mail
        self.stopping = threading.Event()
        self.threads: dict[int, threading.Thread] = {}
        self.clients: dict[int, IMAPClient] = {}
        self.lock = threading.Lock()

    def ensure(self, mailbox_id: int) -> None:
        with self.lock:
            thread = self.threads.get(mailbox_id)
            if thread is not None and thread.is_alive():
                return
            thread = threading.Thread(
                target=self._watch, args=(mailbox_id,), name=f"idle-{mailbox_id}", daemon=True
            )
            self.threads[mailbox_id] = thread
        thread.start()

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            clients = list(self.clients.values())
        for client in clients:  # breaks idle_check out of its wait at once
            with contextlib.suppress(OSError):
                client.shutdown()

    def _connect(self, mailbox_id: int) -> tuple[IMAPClient, str] | None:
        with unit_of_work(self.engine) as db:
            mailbox = db.get(Mailbox, mailbox_id)
            if mailbox is None or mailbox.incoming_server is None or not mailbox.receive_enabled:
                return None
            endpoint = endpoint_of(mailbox.incoming_server)
            credentials = credentials_of(mailbox, mailbox.incoming_server)
            folder = mailbox.folder
        if credentials is None:
            return None
        client = ImapConnector.connect(endpoint, credentials)
        if not client.has_capability("IDLE"):
            client.logout()
            return None
        client.select_folder(folder, readonly=True)
        return client, folder

    def _watch(self, mailbox_id: int) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                connected = self._connect(mailbox_id)
                if connected is None:
                    return  # no IDLE here: polling alone serves this mailbox
                client, _ = connected
                with self.lock:
                    self.clients[mailbox_id] = client
                failures = 0
                # Mail that came between the last fetch and this SELECT raises no EXISTS in
                # IDLE: fetch once now, so nothing waits for the next poll.
                self.on_new_mail(mailbox_id)
                self._idle(mailbox_id, client)
            except (
                PostroomError,
                OSError,
                ValueError,
                IMAPClientError,
                imaplib.IMAP4.error,
            ) as exc:
                # ValueError: stop() closed the socket under a blocked read
                if self.stopping.is_set():
                    return
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                failures += 1
                log.info("IDLE on mailbox %s stopped (%s); again in %.0f s", mailbox_id, exc, delay)
                self.stopping.wait(delay)
            finally:
                with self.lock:
                    client_left = self.clients.pop(mailbox_id, None)
                if client_left is not None:
                    with contextlib.suppress(Exception):
                        client_left.logout()

    def _idle(self, mailbox_id: int, client: IMAPClient) -> None:
        while not self.stopping.is_set():
            client.idle()
            started = time.monotonic()
            arrived = False
            while not arrived and time.monotonic() - started < RENEW_SECONDS:
                if self.stopping.is_set():
                    break
                responses = client.idle_check(timeout=CHECK_SECONDS)
                arrived = any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)
            client.idle_done()
            if arrived:
                self.on_new_mail(mailbox_id)
