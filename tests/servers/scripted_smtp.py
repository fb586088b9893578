"""An SMTP server whose replies a test scripts, for retry and failure handling.

It runs a :class:`~tests.servers.smtp.SmtpServer` underneath (same arguments, AUTH,
STARTTLS and implicit TLS) and answers from a queue of :class:`Reply` rules. Each
*transaction* (one MAIL FROM up to its end) takes the next rule; with the queue
empty the server accepts::

    with ScriptedSmtpServer(users={"desk@example.test": "pw"}) as server:
        server.script(
            Reply(greeting="421 4.3.2 Too busy"),
            Reply(rcpt={"bob@example.test": "452 4.2.2 Mailbox full"}),
            Reply(data="451 4.3.0 Try later"),
            Reply(delay_data_reply=5.0),
        )
        ...  # let the client try; then assert on server.received / server.transactions

A greeting rule is taken by the next *connection*: it gets that reply and is
closed. Should a transaction on an open connection meet a greeting rule first,
its MAIL FROM gets the reply and the connection is closed just the same.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, Unpack

from aiosmtpd.smtp import SMTP, Envelope, Session

from . import smtp
from .loopback import LoopbackServer

__all__ = [
    "ACCEPT_DATA",
    "ACCEPT_MAIL",
    "ACCEPT_RCPT",
    "Outcome",
    "Received",
    "Reply",
    "ScriptedSmtpServer",
    "Transaction",
]

#: What the server answers when no rule says otherwise.
ACCEPT_MAIL = "250 2.1.0 OK"
ACCEPT_RCPT = "250 2.1.5 OK"
ACCEPT_DATA = "250 2.0.0 OK: queued"

_REPLY_LINE = re.compile(r"[2-5][0-9][0-9](?: [^\r\n]*)?")

#: How a transaction ended:
#:
#: - ``refused_at_greeting``: a greeting rule refused the connection; no MAIL FROM.
#: - ``refused_at_mail``: MAIL FROM got a non-2xx reply (or met a greeting rule).
#: - ``abandoned``: it ended before DATA completed (RSET, QUIT, EHLO, disconnect),
#:   e.g. after every recipient was refused.
#: - ``replied``: DATA completed and its reply, whatever the code, was sent.
#: - ``dropped``: DATA completed and the server closed the connection, by script,
#:   without replying.
#: - ``unanswered``: DATA completed but the client went away (or the server
#:   stopped) while the scripted delay held the reply back.
Outcome = Literal[
    "refused_at_greeting",
    "refused_at_mail",
    "abandoned",
    "replied",
    "dropped",
    "unanswered",
]


def _check_line(what: str, line: str, codes: str = "2345") -> None:
    if not _REPLY_LINE.fullmatch(line) or line[0] not in codes:
        raise ValueError(
            f"{what} must be one SMTP reply line with a {'/'.join(codes)}xx code, "
            f'like "452 4.2.2 Mailbox full"; got {line!r}'
        )


def _positive(line: str) -> bool:
    return line.startswith("2")


@dataclass(frozen=True, kw_only=True)
class Reply:
    """One script rule: how the server answers one transaction (or connection).

    Every field left at its default means "answer normally". ``rcpt`` maps
    recipients (matched case-insensitively) to their RCPT reply; recipients not
    listed are accepted, so some refused and some accepted is partial acceptance.
    A 2xx ``mail`` or ``rcpt`` reply accepts, anything else refuses.
    """

    #: Reply to the connection instead of the 220 banner; the server then closes.
    #: Excludes every other field.
    greeting: str | None = None
    #: Reply to MAIL FROM. Non-2xx ends the transaction there.
    mail: str | None = None
    #: Replies to RCPT TO, by recipient.
    rcpt: Mapping[str, str] = field(default_factory=dict)
    #: Reply to the end of DATA (the message is recorded as received whatever it says).
    data: str | None = None
    #: Seconds to wait, after DATA completed and the message was recorded, before
    #: replying: longer than the client's timeout, the client gives up on a message
    #: the server has got.
    delay_data_reply: float = 0.0
    #: Record the message, then close the connection without replying to DATA.
    drop_after_data: bool = False

    def __post_init__(self) -> None:
        if self.greeting is not None:
            _check_line("greeting", self.greeting, codes="45")
            others = (self.mail, self.rcpt, self.data, self.delay_data_reply, self.drop_after_data)
            if any(others):
                raise ValueError("a greeting rule closes the connection; it takes no other field")
        if self.mail is not None:
            _check_line("mail", self.mail)
        rcpt: dict[str, str] = {}
        for recipient, line in self.rcpt.items():
            if not recipient:
                raise ValueError("rcpt keys must be recipient addresses")
            _check_line(f"rcpt[{recipient!r}]", line)
            rcpt[recipient.lower()] = line
        # A private copy: the caller's dict may change after scripting.
        object.__setattr__(self, "rcpt", rcpt)
        if self.data is not None:
            _check_line("data", self.data)
            if self.drop_after_data:
                raise ValueError("drop_after_data sends no reply, so data would never be sent")
        if not (math.isfinite(self.delay_data_reply) and self.delay_data_reply >= 0):
            raise ValueError(f"delay_data_reply must be >= 0 seconds, not {self.delay_data_reply}")

    def rcpt_reply(self, recipient: str) -> str | None:
        """The scripted reply for *recipient*, or None to accept it."""
        return self.rcpt.get(recipient.lower())


@dataclass(frozen=True)
class Received(smtp.Received):
    """A message whose DATA completed at the server, whatever the reply was.

    It is recorded as soon as the data is in, before any reply. ``replied`` is
    the reply sent to DATA: None while a delayed reply is pending, and for good
    if the connection was dropped or the client went away first. When a delayed
    reply goes out, the entry in ``received`` is replaced by one with it set.
    """

    replied: str | None = None
    #: Ordinal of the connection that carried it (1 = the first after start).
    connection: int = 0


@dataclass(frozen=True)
class Transaction:
    """What happened to one scripted transaction; recorded when it ends."""

    #: Ordinal of the connection (1 = the first after start).
    connection: int
    outcome: Outcome
    #: The rule applied, or None when the script was empty.
    rule: Reply | None
    #: None for a connection refused at the greeting.
    mail_from: str | None = None
    #: Reply sent to MAIL FROM; None when refused at the greeting.
    mail_reply: str | None = None
    #: Reply sent to each RCPT TO, in order.
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    #: Whether the message data arrived in full (it is then in ``received``).
    data_received: bool = False
    #: Reply sent to DATA; None when not reached, dropped or unanswered.
    data_reply: str | None = None

    @property
    def accepted_rcpts(self) -> list[str]:
        return [rcpt for rcpt, line in self.rcpt_replies.items() if _positive(line)]


class ScriptedSmtpServer(LoopbackServer):
    """A loopback SMTP server that answers as scripted; see the module docstring.

    The constructor takes the arguments of :class:`~tests.servers.smtp.SmtpServer`.
    Records are thread-safe snapshots; wait with :meth:`wait_for` and
    :meth:`wait_for_transactions` rather than reading them right away.
    """

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        pipelining: bool = False,
        **options: Unpack[smtp.SmtpOptions],
    ) -> None:
        #: Offer PIPELINING (RFC 2920) in the EHLO answer; commands are read one by one
        #: either way, so a client may send MAIL, RCPT and DATA in one write.
        self.pipelining = pipelining
        self._condition = threading.Condition()
        self._rules: deque[Reply] = deque()
        self._received: list[Received] = []
        self._transactions: list[Transaction] = []
        self._connections = 0
        # Off while starting, so the controller's own probe connection takes no rule.
        self._live = False
        self._server = _Engine(self, users, **options)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Listen on a free loopback port; return once the server answers."""
        self._server.start()
        with self._condition:
            self._live = True

    def stop(self) -> None:
        """Stop listening and drop open sessions. Records are kept. Idempotent."""
        with self._condition:
            self._live = False
        self._server.stop()

    # ---------------------------------------------------------------- properties

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def implicit_tls(self) -> bool:
        return self._server.implicit_tls

    def add_user(self, name: str, password: str) -> None:
        """Add a user or change a password; applies to the next AUTH."""
        self._server.add_user(name, password)

    # -------------------------------------------------------------------- script

    def script(self, *rules: Reply) -> None:
        """Replace the queue of rules; ``script()`` empties it (accept everything)."""
        for rule in rules:
            if not isinstance(rule, Reply):
                raise TypeError(f"script() takes Reply rules, not {rule!r}")
        with self._condition:
            self._rules = deque(rules)

    @property
    def pending(self) -> list[Reply]:
        """Rules not taken yet, e.g. to assert the whole script was played."""
        with self._condition:
            return list(self._rules)

    # ------------------------------------------------------------------- records

    @property
    def received(self) -> list[Received]:
        """Snapshot of every message whose DATA completed, in arrival order."""
        with self._condition:
            return list(self._received)

    @property
    def transactions(self) -> list[Transaction]:
        """Snapshot of the transactions that ended, in the order they ended."""
        with self._condition:
            return list(self._transactions)

    def clear(self) -> None:
        """Forget received messages and transactions (the script is kept)."""
        with self._condition:
            self._received.clear()
            self._transactions.clear()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least *n* messages were received; return all of them."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self._received) >= n, timeout):
                raise TimeoutError(
                    f"expected {n} received message(s) within {timeout} s, got "
                    f"{len(self._received)}; transactions: {self._transactions}"
                )
            return list(self._received)

    def wait_for_transactions(self, n: int, timeout: float = 10.0) -> list[Transaction]:
        """Block until at least *n* transactions ended; return all of them."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self._transactions) >= n, timeout):
                raise TimeoutError(
                    f"expected {n} transaction(s) within {timeout} s, got "
                    f"{len(self._transactions)}: {self._transactions}"
                )
            return list(self._transactions)

    # ------------------------------------------------- server thread (internals)

    def _connect(self) -> tuple[int, Reply | None]:
        """A connection opened: its ordinal, and the greeting rule it meets if any."""
        with self._condition:
            if not self._live:
                return 0, None
            self._connections += 1
            number = self._connections
            if self._rules and self._rules[0].greeting is not None:
                rule = self._rules.popleft()
                self._transactions.append(
                    Transaction(connection=number, outcome="refused_at_greeting", rule=rule)
                )
                self._condition.notify_all()
                return number, rule
            return number, None

    def _begin(self, connection: int, mail_from: str) -> _Open:
        with self._condition:
            rule = self._rules.popleft() if self._rules else None
        return _Open(connection=connection, rule=rule, mail_from=mail_from)

    def _record_received(
        self, transaction: _Open, session: Session, envelope: Envelope
    ) -> Received:
        content = envelope.original_content
        if content is None:
            content = envelope.content if isinstance(envelope.content, bytes) else b""
        received = Received(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            data=content,
            username=session.auth_data if session.authenticated else None,
            tls=self._server.implicit_tls or session.ssl is not None,
            mail_options=list(envelope.mail_options),
            connection=transaction.connection,
        )
        transaction.data_received = True
        with self._condition:
            self._received.append(received)
            self._condition.notify_all()
        return received

    def _replied(self, received: Received, line: str) -> None:
        with self._condition:
            for index, entry in enumerate(self._received):
                if entry is received:  # else clear() dropped it meanwhile
                    self._received[index] = dataclasses.replace(entry, replied=line)
            self._condition.notify_all()

    def _finish(self, transaction: _Open, outcome: Outcome) -> None:
        """Record *transaction* as ended; only the first call counts."""
        with self._condition:
            if transaction.finished:
                return
            transaction.finished = True
            if outcome == "abandoned" and transaction.data_received:
                outcome = "unanswered"
            self._transactions.append(
                Transaction(
                    connection=transaction.connection,
                    outcome=outcome,
                    rule=transaction.rule,
                    mail_from=transaction.mail_from,
                    mail_reply=transaction.mail_reply,
                    rcpt_replies=dict(transaction.rcpt_replies),
                    data_received=transaction.data_received,
                    data_reply=transaction.data_reply,
                )
            )
            self._condition.notify_all()


@dataclass
class _Open:
    """A transaction in progress; only the server thread touches it."""

    connection: int
    rule: Reply | None
    mail_from: str
    mail_reply: str | None = None
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_received: bool = False
    data_reply: str | None = None
    finished: bool = False


class _Envelope(smtp._Envelope):
    def __init__(self) -> None:
        super().__init__()
        self.transaction: _Open | None = None


class _Engine(smtp.SmtpServer):
    """The SmtpServer underneath, answering through the scripted handler."""

    def __init__(
        self,
        scripted: ScriptedSmtpServer,
        users: Mapping[str, str] | None,
        **options: Unpack[smtp.SmtpOptions],
    ) -> None:
        super().__init__(users, **options)
        self._scripted = scripted

    def _create_handler(self) -> smtp._Handler:
        return _ScriptedHandler(self, self._scripted)

    def _create_protocol(self, handler: smtp._Handler, **kwargs: Any) -> SMTP:
        return _ScriptedSMTP(self, handler, **kwargs)

    def _record_abandoned(self, envelope: Envelope | None) -> None:
        # Called on RSET, a new EHLO, QUIT and a lost connection, and after DATA.
        if isinstance(envelope, _Envelope) and envelope.transaction is not None:
            self._scripted._finish(envelope.transaction, "abandoned")
            envelope.transaction = None
        super()._record_abandoned(envelope)


class _ScriptedSMTP(smtp._RecordingSMTP):
    """Protocol with a scriptable greeting and a per-connection ordinal."""

    def __init__(self, owner: _Engine, handler: smtp._Handler, **kwargs: Any) -> None:
        self._scripted = owner._scripted
        self.connection = 0
        super().__init__(owner, handler, **kwargs)

    def _create_envelope(self) -> Envelope:
        return _Envelope()

    async def _handle_client(self) -> None:
        # Runs once per connection (STARTTLS does not start it again).
        self.connection, rule = self._scripted._connect()
        if rule is not None and rule.greeting is not None:
            await self.push(rule.greeting)
            if self.transport is not None:
                self.transport.close()  # flushes the reply first
            return
        await super()._handle_client()

    def close_after_reply(self) -> None:
        """Close once the reply being returned to aiosmtpd has been written."""
        transport = self.transport
        if transport is not None:
            self.loop.call_soon(transport.close)

    async def drop(self) -> NoReturn:
        """Cut the connection without a word; return only by being cancelled."""
        transport = self.transport
        if isinstance(transport, asyncio.WriteTransport):
            transport.abort()
        elif transport is not None:
            transport.close()
        # connection_lost cancels this session's task; returning instead would
        # let aiosmtpd push the DATA reply after all.
        await self.loop.create_future()
        raise AssertionError("a dropped session's task is cancelled, never resumed")


class _ScriptedHandler(smtp._Handler):
    """aiosmtpd hooks applying the script; the names are aiosmtpd's protocol."""

    def __init__(self, owner: _Engine, scripted: ScriptedSmtpServer) -> None:
        super().__init__(owner)
        self._scripted = scripted

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to a 5-argument EHLO hook
        if self._scripted.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        assert isinstance(server, _ScriptedSMTP) and isinstance(envelope, _Envelope)
        transaction = self._scripted._begin(server.connection, address)
        rule = transaction.rule
        if rule is not None and rule.greeting is not None:
            transaction.mail_reply = rule.greeting
            server.close_after_reply()
        else:
            transaction.mail_reply = (rule.mail if rule else None) or ACCEPT_MAIL
        if not _positive(transaction.mail_reply):
            self._scripted._finish(transaction, "refused_at_mail")
            return transaction.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        envelope.transaction = transaction
        return transaction.mail_reply

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        assert isinstance(envelope, _Envelope)
        transaction = envelope.transaction
        rule = transaction.rule if transaction else None
        reply = (rule.rcpt_reply(address) if rule else None) or ACCEPT_RCPT
        if transaction is not None:
            transaction.rcpt_replies[address] = reply
        if _positive(reply):
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        return reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(server, _ScriptedSMTP) and isinstance(envelope, _Envelope)
        envelope.settled = True  # not an abandoned envelope for SmtpServer.envelopes
        transaction = envelope.transaction
        if transaction is None:  # pragma: no cover - MAIL FROM always opens one
            transaction = _Open(connection=server.connection, rule=None, mail_from="")
        envelope.transaction = None
        rule = transaction.rule or Reply()
        # Record before anything else: whatever happens next, the server has it.
        received = self._scripted._record_received(transaction, session, envelope)
        try:
            if rule.delay_data_reply:
                await asyncio.sleep(rule.delay_data_reply)
            if rule.drop_after_data:
                self._scripted._finish(transaction, "dropped")
                await server.drop()
            reply = rule.data or ACCEPT_DATA
            # aiosmtpd writes the returned reply with no await in between.
            transaction.data_reply = reply
            self._scripted._replied(received, reply)
            self._scripted._finish(transaction, "replied")
            return reply
        finally:
            # Cancelled: the client went away (or the server stopped) meanwhile.
            self._scripted._finish(transaction, "unanswered")
