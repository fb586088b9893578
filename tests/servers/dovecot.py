"""A private Dovecot (IMAP + POP3) on loopback, driven from plain Python."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import textwrap
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path

from .certs import TestCA
from .loopback import LoopbackServer
from .ports import free_port

__all__ = ["DOVECOT_BINARY", "Dovecot", "DovecotError"]

DOVECOT_BINARY = "/usr/sbin/dovecot"

# Dovecot refuses mail access as root, so mailboxes belong to the stock Debian
# "mail" account; the login and internal users are the ones the package creates.
MAIL_UID = 8
MAIL_GID = 8
LOGIN_USER = "dovenull"
INTERNAL_USER = "dovecot"

_FORBIDDEN_IN_USERNAME = frozenset("/\n\r\t\0")

# A clean Dovecot shutdown mostly takes 5-25 ms here; past this, stop() uses SIGKILL.
_STOP_GRACE_SECONDS = 0.1


class DovecotError(RuntimeError):
    """Dovecot did not come up or was used wrongly; startup errors carry its log."""


class Dovecot(LoopbackServer):
    """A throwaway Dovecot with its own users, Maildirs, ports and certificate.

    Everything lives in one fresh directory from ``tempfile.mkdtemp``, opened up
    to 0755 because Dovecot's unprivileged login, auth and mail processes must
    traverse it (pytest's 0700 tmp dirs would lock them out). Must run as root:
    Dovecot switches to ``mail``/``dovenull``/``dovecot`` itself.

    Mail is stored as ``maildir:<dir>/mail/<user>`` with ``LAYOUT=fs`` and INBOX
    in an ``INBOX`` subdirectory, so every folder, INBOX included, is simply
    ``<dir>/mail/<user>/<folder>``. That is what lets :meth:`deliver` write files
    directly, which is far faster than IMAP APPEND for seeding big mailboxes.
    """

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        tls: bool = True,
        ca: TestCA | None = None,
        startup_timeout: float = 10.0,
        binary: str = DOVECOT_BINARY,
        oauth2_introspection_url: str | None = None,
        submission_relay_port: int | None = None,
        namespace_prefix: str = "",
        separator: str = "/",
        extra_config: str = "",
    ) -> None:
        self._users: dict[str, str] = {}
        for name, password in (users or {}).items():
            _check_credentials(name, password)
            self._users[name] = password
        self._tls = tls
        self._ca = ca
        self._startup_timeout = startup_timeout
        self._binary = binary
        # With a URL, XOAUTH2 and OAUTHBEARER logins are checked by an oauth2 passdb that posts
        # the token there (RFC 7662 introspection); passwords then only work for PLAIN/LOGIN.
        self._oauth2_url = oauth2_introspection_url
        # With a port, Dovecot also speaks submission (SMTP with AUTH) and relays what it
        # accepts to an SMTP server on that loopback port.
        self._relay_port = submission_relay_port
        # Personal folders under a prefix, as Cyrus's Debian default and Courier have them:
        # namespace_prefix="INBOX.", separator=".". The default is Dovecot's own: none and "/".
        self._namespace_prefix, self._separator = namespace_prefix, separator
        # Appended to the generated configuration, e.g. service limits for many clients.
        self._extra_config = extra_config
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._ports: dict[str, int] = {}
        self._lock = threading.Lock()
        self._delivery_seq = 0
        self._delivery_secs = 0
        self._finalizer: weakref.finalize[[int, Path], None] | None = None

    # ----------------------------------------------------------------- lifecycle

    @staticmethod
    def unavailable_reason(binary: str = DOVECOT_BINARY) -> str | None:
        """Why this machine cannot run the server, or None; meant for skip markers."""
        if not Path(binary).is_file():
            return f"{binary} is not installed"
        if os.geteuid() != 0:
            return "Dovecot test servers must run as root to hand mail to the mail user"
        return None

    def start(self) -> None:
        """Start Dovecot; return once every listener greets, or raise with its log.

        Ports are chosen before Dovecot binds them, so another process may grab one
        in between; that shows up as a bind failure and is retried on fresh ports.
        """
        if self._process is not None:
            raise DovecotError("Dovecot is already running")
        reason = self.unavailable_reason(self._binary)
        if reason is not None:
            raise DovecotError(reason)
        directory = Path(tempfile.mkdtemp(prefix="postroom-dovecot-"))
        directory.chmod(0o755)
        self._dir = directory
        try:
            for attempt in range(3):
                self._prepare(directory)
                try:
                    self._launch(directory)
                    process = self._process
                    assert process is not None
                    # Safety net for a forgotten stop(): Dovecot runs in its own
                    # session, so it would otherwise outlive the test process.
                    self._finalizer = weakref.finalize(
                        self, _emergency_cleanup, process.pid, directory
                    )
                    return
                except DovecotError as error:
                    self._kill()
                    if attempt == 2 or "Address already in use" not in str(error):
                        raise
        except BaseException:
            self._kill()
            shutil.rmtree(directory, ignore_errors=True)
            self._dir = None
            raise

    def stop(self) -> None:
        """Stop Dovecot and delete its directory, mailboxes included. Idempotent."""
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        self._kill()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    # ---------------------------------------------------------------- properties

    @property
    def dir(self) -> Path:
        if self._dir is None:
            raise DovecotError("Dovecot is not running")
        return self._dir

    @property
    def tls(self) -> bool:
        return self._tls

    @property
    def imap_port(self) -> int:
        """Plain IMAP; offers STARTTLS when the instance was built with tls=True."""
        return self._port("imap")

    @property
    def imaps_port(self) -> int:
        """Implicit-TLS IMAP; only exists with tls=True."""
        return self._port("imaps")

    @property
    def pop3_port(self) -> int:
        """Plain POP3; offers STLS when the instance was built with tls=True."""
        return self._port("pop3")

    @property
    def pop3s_port(self) -> int:
        """Implicit-TLS POP3; only exists with tls=True."""
        return self._port("pop3s")

    @property
    def submission_port(self) -> int:
        """SMTP submission (plain, STARTTLS with tls=True); only with a relay port."""
        return self._port("submission")

    @property
    def users(self) -> dict[str, str]:
        """A copy: credentials change only through add_user/remove_user."""
        with self._lock:
            return dict(self._users)

    def log_text(self) -> str:
        """Everything Dovecot logged so far, plus anything it printed to stderr."""
        parts = []
        for name in ("dovecot.log", "dovecot.stderr"):
            with contextlib.suppress(FileNotFoundError):
                text = (self.dir / name).read_text(errors="replace")
                if text:
                    parts.append(text)
        return "".join(parts)

    # --------------------------------------------------------------------- users

    def add_user(self, name: str, password: str) -> None:
        """Add a user or change a password; takes effect for the very next login.

        Each user is a small JSON file that Dovecot's dict passdb reads on every
        lookup. The passwd-file driver was not used because it looks for changes
        at most once per second, so a user added right after another login could
        stay unknown for up to a second.
        """
        _check_credentials(name, password)
        with self._lock:
            self._users[name] = password
            if self._dir is not None:
                self._write_user(self._dir, name, password)

    def remove_user(self, name: str) -> None:
        """Forget a user; later logins fail as for an unknown user. Mail is kept."""
        with self._lock:
            del self._users[name]
            if self._dir is not None:
                with contextlib.suppress(FileNotFoundError):
                    (self._dir / "users" / "passdb" / name).unlink()

    # ---------------------------------------------------------------------- mail

    def maildir(self, user: str, folder: str = "INBOX") -> Path:
        """Where *folder* of *user* lives on disk ("/" separates folder levels)."""
        _check_username(user)
        parts = folder.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"unusable folder name {folder!r}")
        return self.dir.joinpath("mail", user, *parts)

    def deliver(self, user: str, messages: Iterable[bytes], folder: str = "INBOX") -> int:
        """Drop *messages* into a folder the way a local delivery agent would.

        Returns how many were written. Each file goes to tmp/ and is renamed into
        new/, so Dovecot never sees half a message. Names start with a
        non-decreasing timestamp and a zero-padded sequence number: Dovecot sorts
        new files by exactly that when assigning UIDs, so UIDs follow delivery
        order. Line endings are stored as LF, Dovecot's on-disk convention, and
        the S=/W= sizes in the name spare it from reading files to report sizes.
        """
        path = self.maildir(user, folder)
        self._make_maildir(path)
        pid = os.getpid()
        delivered = 0
        # Directory fds spare the kernel a full path walk per file; this loop is
        # what makes seeding tens of thousands of messages take seconds.
        tmp_fd = os.open(path / "tmp", os.O_RDONLY | os.O_DIRECTORY)
        new_fd = os.open(path / "new", os.O_RDONLY | os.O_DIRECTORY)
        try:
            for message in messages:
                data = message.replace(b"\r\n", b"\n")
                with self._lock:
                    self._delivery_seq += 1
                    self._delivery_secs = max(self._delivery_secs, int(time.time()))
                    seq, secs = self._delivery_seq, self._delivery_secs
                size = len(data)
                name = f"{secs}.P{pid}Q{seq:010d}.postroom,S={size},W={size + data.count(10)}"
                fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, dir_fd=tmp_fd)
                try:
                    os.fchown(fd, MAIL_UID, MAIL_GID)
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                finally:
                    os.close(fd)
                os.rename(name, name, src_dir_fd=tmp_fd, dst_dir_fd=new_fd)
                delivered += 1
        finally:
            os.close(tmp_fd)
            os.close(new_fd)
        return delivered

    def count(self, user: str, folder: str = "INBOX") -> int:
        """Messages in a folder, counted from files in new/ and cur/."""
        path = self.maildir(user, folder)
        total = 0
        for sub in ("new", "cur"):
            with contextlib.suppress(FileNotFoundError):
                total += sum(1 for entry in os.scandir(path / sub) if entry.is_file())
        return total

    # ------------------------------------------------------------------ internals

    def _port(self, name: str) -> int:
        if self._process is None:
            raise DovecotError("Dovecot is not running")
        try:
            return self._ports[name]
        except KeyError:
            raise DovecotError(f"no {name} listener: this instance has tls=False") from None

    def _make_maildir(self, path: Path) -> None:
        """Create a Maildir and missing parent folders, all owned by the mail user."""
        mail_root = self.dir / "mail"
        missing = []
        current = path
        while current != mail_root and not current.exists():
            missing.append(current)
            current = current.parent
        new_dirs = [*reversed(missing), path / "cur", path / "new", path / "tmp"]
        for directory in new_dirs:
            with contextlib.suppress(FileExistsError):
                directory.mkdir(mode=0o700)
                os.chown(directory, MAIL_UID, MAIL_GID)

    def _write_user(self, directory: Path, name: str, password: str) -> None:
        """Write one passdb entry atomically, so a lookup never sees half a file."""
        record = json.dumps({"password": "{PLAIN}" + password}, ensure_ascii=False)
        tmp_path = directory / "users" / f".{threading.get_ident()}.tmp"
        tmp_path.write_text(record, encoding="utf-8")
        # The auth worker runs as the internal user and must be able to read it.
        os.chown(tmp_path, 0, pwd.getpwnam(INTERNAL_USER).pw_gid)
        tmp_path.chmod(0o640)
        os.replace(tmp_path, directory / "users" / "passdb" / name)

    def _prepare(self, directory: Path) -> None:
        internal_gid = pwd.getpwnam(INTERNAL_USER).pw_gid
        for sub in ("run", "state"):
            (directory / sub).mkdir(mode=0o755, exist_ok=True)
        for sub in ("users", "users/passdb"):
            (directory / sub).mkdir(mode=0o750, exist_ok=True)
            os.chown(directory / sub, 0, internal_gid)
        mail_root = directory / "mail"
        mail_root.mkdir(mode=0o755, exist_ok=True)
        os.chown(mail_root, MAIL_UID, MAIL_GID)
        for name in ("dovecot.log", "dovecot.stderr"):
            (directory / name).write_bytes(b"")
        with self._lock:
            for name, password in self._users.items():
                self._write_user(directory, name, password)
        (directory / "dict-passdb.conf.ext").write_text(
            _DICT_PASSDB.format(dir=directory), encoding="utf-8"
        )
        (directory / "dict-passdb.conf.ext").chmod(0o644)
        oauth2 = ""
        if self._oauth2_url:
            (directory / "oauth2.conf.ext").write_text(
                _OAUTH2_PASSDB.format(url=self._oauth2_url), encoding="utf-8"
            )
            (directory / "oauth2.conf.ext").chmod(0o644)
            oauth2 = _OAUTH2_CONFIG.format(dir=directory)

        names = ["imap", "pop3"] + (["imaps", "pop3s"] if self._tls else [])
        if self._relay_port is not None:
            names.append("submission")
        self._ports = {name: free_port() for name in names}
        submission = ""
        if self._relay_port is not None:
            submission = _SUBMISSION.format(
                relay_port=self._relay_port,
                listener=_listener("submission", self._ports["submission"], tls=False),
            )
        listeners = {
            protocol: "".join(
                _listener(name, port, tls=name.endswith("s"))
                for name, port in self._ports.items()
                if name.startswith(protocol)
            )
            for protocol in ("imap", "pop3")
        }
        if self._tls:
            cert, key = (self._ca or TestCA.shared()).server_cert_files(directory)
            ssl_settings = f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}"
        else:
            ssl_settings = "ssl = no"
        config = _CONFIG.format(
            dir=directory,
            ssl_settings=ssl_settings,
            mail_uid=MAIL_UID,
            mail_gid=MAIL_GID,
            login_user=LOGIN_USER,
            internal_user=INTERNAL_USER,
            imap_listeners=listeners["imap"],
            pop3_listeners=listeners["pop3"],
            mechanisms="plain login xoauth2 oauthbearer" if oauth2 else "plain login",
            oauth2_passdb=oauth2,
            password_mechanisms="  mechanisms = plain login\n" if oauth2 else "",
            protocols="imap pop3 submission" if submission else "imap pop3",
            submission=submission,
            namespace=f"prefix = {self._namespace_prefix}\n      separator = {self._separator}",
        )
        (directory / "dovecot.conf").write_text(config + self._extra_config, encoding="utf-8")

    def _launch(self, directory: Path) -> None:
        with open(directory / "dovecot.stderr", "wb") as stderr:
            self._process = subprocess.Popen(
                [self._binary, "-F", "-c", str(directory / "dovecot.conf")],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                # Own process group, so stop() reaches master and children at once.
                start_new_session=True,
            )
        deadline = time.monotonic() + self._startup_timeout
        client_context = (self._ca or TestCA.shared()).client_ssl_context()
        for name, port in self._ports.items():
            greeting = {"imap": b"* OK", "pop3": b"+OK", "submission": b"220"}[name.rstrip("s")]
            context = client_context if name.endswith("s") else None
            self._wait_for_listener(name, port, greeting, context, deadline)

    def _wait_for_listener(
        self,
        name: str,
        port: int,
        greeting: bytes,
        tls_context: ssl.SSLContext | None,
        deadline: float,
    ) -> None:
        """Poll until *port* greets, through TLS for the implicit-TLS ports.

        Implicit-TLS ports say nothing before the handshake, so a bare connect
        would already show that they listen. The probe still finishes the handshake
        and reads the greeting: that proves the certificate setup, and it lets the
        login process finish starting. A login process caught mid-startup by
        SIGTERM makes the master wait about six seconds before exiting.
        """
        process = self._process
        assert process is not None
        last_error = "no attempt made"
        while True:
            if process.poll() is not None:
                raise DovecotError(
                    f"Dovecot exited with status {process.returncode} during startup\n"
                    + self._log_for_error()
                )
            if " Fatal: " in self.log_text():
                # e.g. a broken auth setup: the master keeps restarting the
                # service with growing back-off, so waiting longer is pointless.
                raise DovecotError("Dovecot reported a fatal error\n" + self._log_for_error())
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DovecotError(
                    f"Dovecot {name} listener on port {port} not ready in time "
                    f"({last_error})\n" + self._log_for_error()
                )
            try:
                # A short timeout per probe, so a crashed master or a foreign
                # process that holds the port is noticed on the next round.
                probe_timeout = min(remaining, 0.5)
                with socket.create_connection((self.host, port), timeout=probe_timeout) as raw:
                    if tls_context is None:
                        line = _read_line(raw)
                    else:
                        with tls_context.wrap_socket(raw, server_hostname=self.host) as sock:
                            line = _read_line(sock)
                if line.startswith(greeting):
                    return
                last_error = f"unexpected greeting {line!r}"
            except OSError as error:
                last_error = repr(error)
            # Back off briefly between probes. Waiting on the process instead of
            # sleeping means a Dovecot that dies is noticed at once.
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.005)

    def _log_for_error(self) -> str:
        try:
            text = self.log_text()
        except DovecotError:
            text = ""
        return "--- Dovecot log ---\n" + (text or "(empty)")

    def _kill(self) -> None:
        """Stop the whole process group quickly, then make sure none of it survives.

        Two shutdown stalls were measured. The master can fork a login process for
        a connection that arrives just as SIGTERM goes out; that child misses the
        signal and the master waits about six seconds for it, so SIGTERM is
        repeated to the group. And a master that finds a child not yet reaped
        sleeps a full second before looking again, so after a short grace period
        the group is killed outright: the instance is discarded anyway.
        """
        process, self._process = self._process, None
        if process is None:
            return
        grace_deadline = time.monotonic() + _STOP_GRACE_SECONDS
        killed = False
        while process.poll() is None:
            killed = time.monotonic() >= grace_deadline
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL if killed else signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.02)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if not killed:
            # A master that exits on its own has already seen all its children exit.
            return
        # Children of a killed master might still hold ports and files for a
        # moment, so wait until every member of the group has exited. The orphans
        # stay zombies until init reaps them (a second or more here), but zombies
        # hold nothing, so they do not count.
        gone_deadline = time.monotonic() + 5
        while _group_has_live_members(process.pid) and time.monotonic() < gone_deadline:
            time.sleep(0.001)  # polling: processes we did not start cannot be waited on


def _emergency_cleanup(pgid: int, directory: Path) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    shutil.rmtree(directory, ignore_errors=True)


def _group_has_live_members(pgid: int) -> bool:
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat_file:
                stat = stat_file.read()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def _check_username(name: str) -> None:
    # Usernames become file names (passdb entry, Maildir root).
    if not name or name in (".", "..") or _FORBIDDEN_IN_USERNAME & set(name):
        raise ValueError(f"unusable username {name!r}")


def _check_credentials(name: str, password: str) -> None:
    _check_username(name)
    if "\0" in password:
        raise ValueError("passwords cannot contain NUL")


def _read_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data


def _listener(name: str, port: int, *, tls: bool) -> str:
    # Dovecot rejects "inet_listener x { port = N }" on one line.
    lines = [f"  inet_listener {name} {{", "    address = 127.0.0.1", f"    port = {port}"]
    if tls:
        lines.append("    ssl = yes")
    lines.append("  }")
    return "\n".join(lines) + "\n"


_DICT_PASSDB = textwrap.dedent(
    """\
    # Generated for one test run; see tests/servers/dovecot.py.
    uri = fs:posix:prefix={dir}/users/
    password_key = passdb/%u
    iterate_disable = yes
    default_pass_scheme = PLAIN
    """
)

_OAUTH2_PASSDB = textwrap.dedent(
    """\
    # Generated for one test run; see tests/servers/dovecot.py.
    introspection_mode = post
    introspection_url = {url}
    force_introspection = yes
    username_attribute = username
    active_attribute = active
    active_value = true
    """
)

_OAUTH2_CONFIG = """passdb {{
      driver = oauth2
      mechanisms = xoauth2 oauthbearer
      args = {dir}/oauth2.conf.ext
    }}"""

_SUBMISSION = """hostname = localhost
    submission_relay_host = 127.0.0.1
    submission_relay_port = {relay_port}
    submission_relay_ssl = no
    service submission-login {{
    {listener}}}
"""

_CONFIG = textwrap.dedent(
    """\
    # Generated for one test run; see tests/servers/dovecot.py.
    base_dir = {dir}/run
    state_dir = {dir}/state
    instance_name = postroom-test
    log_path = {dir}/dovecot.log
    info_log_path = {dir}/dovecot.log
    protocols = {protocols}
    listen = 127.0.0.1

    {ssl_settings}
    disable_plaintext_auth = no
    auth_mechanisms = {mechanisms}
    auth_verbose = yes
    # Usernames are used exactly as typed (the default lowercases them), and
    # may contain any character (the default allows only [a-zA-Z0-9.@_-]).
    auth_username_format = %u
    auth_username_chars =
    # Tests fail logins on purpose; the default 2 s delay would make them crawl.
    auth_failure_delay = 0

    default_login_user = {login_user}
    default_internal_user = {internal_user}
    mail_uid = {mail_uid}
    mail_gid = {mail_gid}
    # Dovecot refuses mail access for uids below first_valid_uid (default 500).
    first_valid_uid = {mail_uid}
    first_valid_gid = {mail_gid}

    mail_location = maildir:{dir}/mail/%u:LAYOUT=fs:INBOX={dir}/mail/%u/INBOX
    mail_fsync = never
    # The default of 10 would cut off benchmarks that open many sessions.
    mail_max_userip_connections = 1000
    pop3_uidl_format = %08Xu%08Xv

    namespace inbox {{
      inbox = yes
      {namespace}
      mailbox Drafts {{
        special_use = \\Drafts
      }}
      mailbox Sent {{
        special_use = \\Sent
      }}
      mailbox Trash {{
        special_use = \\Trash
      }}
      mailbox Junk {{
        special_use = \\Junk
      }}
      mailbox Archive {{
        special_use = \\Archive
      }}
    }}

    # Failed logins are still answered in batches every 500 ms with
    # auth_failure_delay = 0, unless the request carries "nodelay". A failing
    # passdb's extra fields are rolled back, but those of a passdb that returns
    # NEXT (noauthenticate) survive, so this first passdb only adds the tag.
    passdb {{
      driver = static
      args = noauthenticate nodelay=yes
    }}
    passdb {{
      driver = dict
      args = {dir}/dict-passdb.conf.ext
    {password_mechanisms}}}
    {oauth2_passdb}
    userdb {{
      driver = static
      args = uid={mail_uid} gid={mail_gid}
    }}

    service imap-login {{
    {imap_listeners}}}
    service pop3-login {{
    {pop3_listeners}}}
    service anvil {{
      # Unconnectable, so failed logins build up no per-IP penalty that would
      # slow down later logins.
      unix_listener anvil-auth-penalty {{
        mode = 0
      }}
    }}
    {submission}
    """
)
