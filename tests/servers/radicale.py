"""Radicale, a real CalDAV/CardDAV server (RFC 4791, RFC 6352, sync-collection RFC 6578), run
on a free loopback port with plain htpasswd users and a temporary storage folder.

Each user gets an address book `contacts/` and a calendar `calendar/` made in the storage
folder before the start, as an administrator would. `other` is a second client of the same
account (a phone, the webmail): what it writes is what "changed on the server" means in tests.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from defusedxml import ElementTree

from .ports import free_port

__all__ = ["Radicale", "radicale_server"]

READY = "Listening on"
START_DEADLINE = 20.0


@dataclass
class Radicale:
    url: str  # http://127.0.0.1:PORT/
    users: dict[str, str]
    storage: Path
    process: subprocess.Popen[str]

    def home(self, user: str) -> str:
        return f"{self.url}{user}/"

    def addressbook(self, user: str) -> str:
        return f"{self.home(user)}contacts/"

    def calendar(self, user: str) -> str:
        return f"{self.home(user)}calendar/"

    def other(self, user: str) -> httpx.Client:
        """Another client of the account, writing behind postroom's back."""
        return httpx.Client(auth=(user, self.users[user]), timeout=10.0)

    def hrefs(self, collection: str, user: str) -> dict[str, str]:
        """The collection's members (path → etag), read straight from the server."""
        # The test's own probe, independent of the code under test.
        body = '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/></prop></propfind>'
        with self.other(user) as client:
            answer = client.request("PROPFIND", collection, content=body, headers={"Depth": "1"})
        answer.raise_for_status()
        tree = ElementTree.fromstring(answer.content)
        found: dict[str, str] = {}
        for response in tree.iter("{DAV:}response"):
            href = response.findtext("{DAV:}href") or ""
            etag = response.findtext(".//{DAV:}getetag") or ""
            if etag and not href.endswith("/"):
                found[href] = etag
        return found

    def body(self, user: str, href: str) -> str:
        with self.other(user) as client:
            answer = client.get(self.url.rstrip("/") + href)
        answer.raise_for_status()
        text: str = answer.text
        return text

    def put(self, user: str, href: str, text: str, content_type: str) -> str:
        with self.other(user) as client:
            answer = client.put(
                self.url.rstrip("/") + href,
                content=text.encode(),
                headers={"Content-Type": content_type},
            )
        answer.raise_for_status()
        etag: str = answer.headers.get("ETag", "")
        return etag

    def delete(self, user: str, href: str) -> None:
        with self.other(user) as client:
            client.delete(self.url.rstrip("/") + href).raise_for_status()


def _collections(storage: Path, users: dict[str, str]) -> None:
    for user in users:
        for name, tag in (("contacts", "VADDRESSBOOK"), ("calendar", "VCALENDAR")):
            folder = storage / "collection-root" / user / name
            folder.mkdir(parents=True)
            (folder / ".Radicale.props").write_text(json.dumps({"tag": tag}))


def _wait_ready(process: subprocess.Popen[str]) -> None:
    """Read Radicale's log until it says it listens: no polling of the port, no sleeps. A
    thread reads the log (and keeps draining it, so a full pipe never blocks Radicale)."""
    assert process.stderr is not None
    stream = process.stderr
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, name="radicale-log", daemon=True).start()
    deadline = time.monotonic() + START_DEADLINE
    seen: list[str] = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if READY in line:
            return
    process.kill()
    raise RuntimeError("Radicale did not start:\n" + "".join(seen[-20:]))


@contextmanager
def radicale_server(root: Path, users: dict[str, str]) -> Iterator[Radicale]:
    storage = root / "storage"
    _collections(storage, users)
    htpasswd = root / "users"
    htpasswd.write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
    port = free_port()
    config = root / "config"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {htpasswd}\n"
        "htpasswd_encryption = plain\ndelay = 0\n"
        f"[storage]\nfilesystem_folder = {storage}\n"
        "[rights]\ntype = owner_only\n"
        "[logging]\nlevel = info\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    try:
        _wait_ready(process)
        yield Radicale(f"http://127.0.0.1:{port}/", users, storage, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
