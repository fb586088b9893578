"""A POP3 server (RFC 1939, CAPA of RFC 2449) whose answers a test scripts: response codes at
sign-in ([LOGIN-DELAY], [IN-USE], [SYS/TEMP], [AUTH], [SYS/PERM]), an -ERR or a dropped
connection on RETR of one message. Dovecot cannot be told to do these on cue.

    with ScriptedPop3({"a1": raw1, "a2": raw2}, password="pw") as server:
        server.login_reply = "-ERR [IN-USE] Mailbox locked by another session"
        server.drop_on_retr = {"a2"}
"""

from __future__ import annotations

import socketserver
import threading

from .loopback import ThreadedLoopbackServer

__all__ = ["ScriptedPop3"]


class ScriptedPop3(ThreadedLoopbackServer):
    def __init__(self, messages: dict[str, bytes], password: str = "pop-pass") -> None:
        self.messages = dict(messages)  # UIDL -> raw bytes; deleted on QUIT after DELE
        self.password = password
        self.capabilities = ["USER", "UIDL", "TOP"]
        self.login_reply: str | None = None  # an -ERR answer to PASS instead of +OK
        self.drop_on_retr: set[str] = set()  # RETR of these closes the connection
        self.error_on_retr: dict[str, str] = {}  # RETR of these gets this -ERR line
        self.logins = 0
        self.retrieved: list[str] = []
        self._lock = threading.Lock()

    def _bind(self) -> socketserver.BaseServer:
        server = socketserver.ThreadingTCPServer((self.host, 0), _handler(self))
        server.daemon_threads = True
        return server


def _handler(script: ScriptedPop3) -> type[socketserver.StreamRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        def send(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            self.send("+OK scripted POP3 ready")
            signed_in = False
            with script._lock:
                listing = list(script.messages.items())
            deleted: set[int] = set()
            while raw := self.rfile.readline():
                command, _, argument = raw.decode().strip().partition(" ")
                command = command.upper()
                if command == "CAPA":
                    self.send("+OK capability list follows")
                    for line in script.capabilities:
                        self.send(line)
                    self.send(".")
                elif command == "USER":
                    self.send("+OK")
                elif command == "PASS":
                    if script.login_reply is not None:
                        self.send(script.login_reply)
                    elif argument == script.password:
                        script.logins += 1
                        signed_in = True
                        self.send("+OK signed in")
                    else:
                        self.send("-ERR [AUTH] Invalid login")
                elif command == "QUIT":
                    with script._lock:
                        for number in deleted:
                            script.messages.pop(listing[number - 1][0], None)
                    self.send("+OK bye")
                    return
                elif not signed_in:
                    self.send("-ERR sign in first")
                elif command == "UIDL":
                    self.send("+OK")
                    for number, (uidl, _) in enumerate(listing, 1):
                        self.send(f"{number} {uidl}")
                    self.send(".")
                elif command == "STAT":
                    self.send(f"+OK {len(listing)} {sum(len(m) for _, m in listing)}")
                elif command == "RETR":
                    uidl, body = listing[int(argument) - 1]
                    script.retrieved.append(uidl)
                    if uidl in script.drop_on_retr:
                        return  # the connection closes without an answer
                    if uidl in script.error_on_retr:
                        self.send(script.error_on_retr[uidl])
                        continue
                    self.send(f"+OK {len(body)} octets")
                    for text in body.replace(b"\r\n", b"\n").split(b"\n")[:-1]:
                        self.wfile.write((b"." + text if text.startswith(b".") else text) + b"\r\n")
                    self.send(".")
                elif command == "DELE":
                    deleted.add(int(argument))
                    self.send("+OK deleted")
                elif command == "NOOP":
                    self.send("+OK")
                else:
                    self.send("-ERR unknown command")

    return Handler
