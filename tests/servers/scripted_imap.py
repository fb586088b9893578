"""An IMAP server that speaks just enough for IDLE (LOGIN, CAPABILITY, EXAMINE, STATUS, IDLE,
DONE, LOGOUT) and misbehaves on request: BYE, a dropped connection, a DONE never answered, a
connection that goes silent without closing (half-open). It records what each connection said,
so a test waits for "the client sent DONE then IDLE again on connection 1"."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from .loopback import LoopbackServer

__all__ = ["ScriptedImap"]


@dataclass
class Talk:
    number: int
    sock: socket.socket
    commands: list[str] = field(default_factory=list)  # verbs, in order, DONE included
    idling: bool = False


class ScriptedImap(LoopbackServer):
    def __init__(self, uidnext: int = 5) -> None:
        self.uidnext = uidnext
        self.answer_done = True  # False: DONE is never answered
        self.silent_after_idle = False  # True: once idling, say and read nothing, never close
        self.talks: list[Talk] = []
        self.changed = threading.Condition()
        self._listener = socket.create_server((self.host, 0))
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    # -------------------------------------------------------------- for the test

    def wait_for(self, condition: str, check: object, timeout: float = 10.0) -> None:
        """Wait until `check()` is true; fail with `condition` and the transcript otherwise."""
        assert callable(check)
        with self.changed:
            if not self.changed.wait_for(check, timeout=timeout):
                raise AssertionError(f"{condition}; transcript: {self.transcript()}")

    def transcript(self) -> list[list[str]]:
        with self.changed:
            return [list(t.commands) for t in self.talks]

    def latest(self) -> Talk:
        with self.changed:
            return self.talks[-1]

    def send(self, line: str) -> None:
        """An untagged line to the newest connection, e.g. "* 6 EXISTS"."""
        self.latest().sock.sendall(line.encode() + b"\r\n")

    def bye(self) -> None:
        talk = self.latest()
        talk.sock.sendall(b"* BYE Server shutting down\r\n")
        talk.sock.shutdown(socket.SHUT_RDWR)

    def drop(self) -> None:
        """Close without a word, as a crashed server or a restart does."""
        self.latest().sock.shutdown(socket.SHUT_RDWR)

    # ------------------------------------------------------------------ serving

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._listener.shutdown(socket.SHUT_RDWR)
        self._thread.join()
        self._listener.close()
        with self.changed:
            for talk in self.talks:
                talk.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self.changed:
                talk = Talk(len(self.talks) + 1, conn)
                self.talks.append(talk)
                self.changed.notify_all()
            threading.Thread(target=self._talk, args=(talk,), daemon=True).start()

    def _record(self, talk: Talk, verb: str, idling: bool | None = None) -> None:
        with self.changed:
            talk.commands.append(verb)
            if idling is not None:
                talk.idling = idling
            self.changed.notify_all()

    def _talk(self, talk: Talk) -> None:
        conn = talk.sock
        try:
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 IDLE LITERAL+] scripted ready\r\n")
            reader = conn.makefile("rb")
            idle_tag = b""
            while line := reader.readline():
                if idle_tag:
                    self._record(talk, line.strip().decode(), idling=False)
                    if self.answer_done:
                        conn.sendall(idle_tag + b" OK Idle completed\r\n")
                    idle_tag = b""
                    continue
                tag, _, rest = line.strip().partition(b" ")
                verb = rest.split(b" ", 1)[0].upper().decode()
                if verb == "IDLE":
                    idle_tag = tag
                    conn.sendall(b"+ idling\r\n")
                    self._record(talk, verb, idling=True)
                    if self.silent_after_idle:
                        self._stop.wait()  # half-open: the peer is gone, nothing more comes
                        return
                    continue
                self._record(talk, verb)
                conn.sendall(self._answer(tag, verb))
                if verb == "LOGOUT":
                    return
        except OSError:
            return
        finally:
            with self.changed:
                talk.idling = False
                self.changed.notify_all()

    def _answer(self, tag: bytes, verb: str) -> bytes:
        if verb == "LOGIN":
            return tag + b" OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n"
        if verb == "EXAMINE":
            return (
                b"* 0 EXISTS\r\n* OK [UIDVALIDITY 7] UIDs valid\r\n"
                + b"* OK [UIDNEXT %d] Predicted next UID\r\n" % self.uidnext
                + tag
                + b" OK [READ-ONLY] Examine completed\r\n"
            )
        if verb == "STATUS":
            return b"* STATUS INBOX (UIDNEXT %d)\r\n" % self.uidnext + tag + b" OK Status\r\n"
        if verb == "LOGOUT":
            return b"* BYE Logging out\r\n" + tag + b" OK Logout completed\r\n"
        return tag + b" OK done\r\n"
