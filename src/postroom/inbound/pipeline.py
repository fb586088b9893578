"""One batch of fetched mail, in the caller's transaction: parse, dedupe, rules, route, store.

Lookups are made once per batch (threads, earlier copies, sender counts) and kept up to date as
the batch is placed, so a reply later in the same batch finds the request opened earlier in it;
everything is written in one flush. The caller commits, and only then acts on the server.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postroom.config import get_settings
from postroom.connectors.base import RemoteMessage
from postroom.domain.messages import Headers, Hit
from postroom.inbound.parse import is_unparseable, parse_headers
from postroom.inbound.participants import Participants
from postroom.inbound.route import Decision, decide, subject_token, thread_ids
from postroom.inbound.rules import RuleContext, run_chain, verdict
from postroom.storage.models import Mailbox, Message, Request, utcnow

LOOKUP_CHUNK = 500
SENDER_WINDOW = timedelta(hours=1)


@dataclass
class BatchResult:
    opened: int = 0
    threaded: int = 0
    held: int = 0
    duplicates: int = 0
    held_reasons: Counter[str] = field(default_factory=Counter)
    # When each email that opened or joined a request reached the server, for the latency metric
    arrivals: list[datetime | None] = field(default_factory=list, repr=False)

    def add(self, other: BatchResult) -> None:
        self.opened += other.opened
        self.threaded += other.threaded
        self.held += other.held
        self.duplicates += other.duplicates
        self.held_reasons.update(other.held_reasons)
        self.arrivals += other.arrivals


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), LOOKUP_CHUNK):
        yield items[start : start + LOOKUP_CHUNK]


class Router:
    """The routing state of one batch: which Message-IDs belong to which request, which exact
    copies are already kept, and how much each sender sent lately."""

    def __init__(
        self,
        db: Session,
        mailbox: Mailbox,
        own_addresses: frozenset[str],
        now: datetime | None = None,
    ) -> None:
        self.db, self.mailbox = db, mailbox
        self.now = now or utcnow()
        self.threads: dict[str, Request] = {}
        self.copies: set[tuple[str, str]] = set()
        self.sent: Counter[str] = Counter()
        self.own_addresses = own_addresses
        self.participants = Participants(db)
        settings = get_settings()
        self.max_size, self.rate_limit = settings.max_message_size, settings.sender_rate_limit

    def prepare(self, batch: Sequence[Headers]) -> None:
        ids = sorted({i for h in batch for i in (*thread_ids(h), h.message_id)})
        for chunk in _chunks(ids):
            rows = self.db.execute(
                select(Message.message_id_header, Message.sha256, Message.request_id).where(
                    Message.message_id_header.in_(chunk)
                )
            )
            for message_id, sha256, request_id in rows:
                if message_id is None:
                    continue
                self.copies.add((message_id, sha256))
                if request_id is not None and message_id not in self.threads:
                    request = self.db.get(Request, request_id)
                    if request is not None:
                        self.threads[message_id] = request
        senders = sorted({h.sender for h in batch if h.sender})
        since = self.now - SENDER_WINDOW
        for chunk in _chunks(senders):
            counts = self.db.execute(
                select(Message.sender, func.count())
                .where(Message.sender.in_(chunk), Message.received_at >= since)
                .group_by(Message.sender)
            )
            self.sent.update({sender: count for sender, count in counts})

    def is_copy(self, headers: Headers) -> bool:
        return (headers.message_id, headers.sha256) in self.copies

    def _thread(self, headers: Headers) -> tuple[Request | None, str | None]:
        """The first request the message names (headers, then `[#N]`) whose participants
        include its sender; else none, with why the first one named was not joined."""
        named = [self.threads[i] for i in thread_ids(headers) if i in self.threads]
        number = subject_token(headers.subject)
        token = self.db.get(Request, number) if number is not None else None
        if token is not None:
            named.append(token)
        refusal = None
        for request in named:
            why = self.participants.refusal(request, headers.sender)
            if why is None:
                return request, None
            refusal = refusal or why
        return None, refusal

    def decide(self, headers: Headers) -> tuple[Decision, list[Hit]]:
        if is_unparseable(headers):
            return Decision("hold", reason="unparseable", detail="No email headers were found."), []
        context = RuleContext(
            own_addresses=self.own_addresses,
            max_size=self.max_size,
            sender_rate_limit=self.rate_limit,
            recent_from_sender=lambda sender: self.sent[sender],
        )
        hits = run_chain(headers, context)
        thread, refusal = self._thread(headers)
        decision = decide(verdict(hits), hits, thread, self.mailbox.workflow)
        if refusal is not None:  # the trail says why it did not join the request it named
            hits = [*hits, Hit("thread", refusal)]
        return decision, hits

    def apply(self, decision: Decision, headers: Headers) -> Request | None:
        """Open the request a decision asks for; remember the message for later threading."""
        request = decision.request
        if decision.action == "open":
            workflow = self.mailbox.workflow
            assert workflow is not None
            steps = workflow.steps
            request = Request(
                workflow=workflow,
                step=steps[1] if len(steps) > 1 else steps[0],  # opened, then moved on a step
                mailbox_id=self.mailbox.id,
                subject=headers.subject,
                requester=headers.sender,
            )
            self.db.add(request)
        if request is not None:
            request.updated_at = self.now
            self.threads.setdefault(headers.message_id, request)
            self.participants.add(request, headers.sender)
        self.copies.add((headers.message_id, headers.sha256))
        if headers.sender:
            self.sent[headers.sender] += 1
        return request


def ingest(
    db: Session,
    mailbox: Mailbox,
    fetched: Sequence[RemoteMessage],
    own_addresses: frozenset[str],
    *,
    on_open: Callable[[Request, Headers], None] | None = None,
    on_bounce: Callable[[bytes], object] | None = None,
    on_stored: Callable[[list[tuple[Message, str]]], None] | None = None,
) -> BatchResult:
    """`on_open`, `on_bounce` and `on_stored` (the messages placed, once ids are known, each
    with its action: open, thread, hold) run in the batch's transaction (an acknowledgement queued,
    an outbox item marked bounced, a webhook event), so they commit together with the
    message, or not at all."""
    result = BatchResult()
    parsed = [(m, parse_headers(m.raw)) for m in fetched]
    router = Router(db, mailbox, own_addresses)
    router.prepare([h for _, h in parsed])
    rows: list[Message] = []
    actions: list[str] = []
    for remote, headers in parsed:
        if router.is_copy(headers):
            result.duplicates += 1  # byte-identical to one we keep: the only mail not kept
            continue
        try:
            decision, hits = router.decide(headers)
        except Exception as exc:  # a bug in a rule must hold the message, never lose it
            decision, hits = (
                Decision("hold", reason="failed", detail=f"{type(exc).__name__}: {exc}"),
                [],
            )
        request = router.apply(decision, headers)
        if on_bounce is not None and any(hit.rule == "bounce" for hit in hits):
            on_bounce(remote.raw)
        if on_open is not None and decision.action == "open" and request is not None:
            on_open(request, headers)
        rows.append(_message(mailbox, remote, headers, decision, hits, request))
        actions.append(decision.action)
        if decision.action == "hold":
            result.held += 1
            result.held_reasons[decision.reason or "held"] += 1
        elif decision.action == "open":
            result.opened += 1
            result.arrivals.append(remote.arrived_at or headers.date)
        else:
            result.threaded += 1
            result.arrivals.append(remote.arrived_at or headers.date)
    db.add_all(rows)
    db.flush()
    if on_stored is not None:
        on_stored(list(zip(rows, actions, strict=True)))
    return result


def _message(
    mailbox: Mailbox,
    remote: RemoteMessage,
    headers: Headers,
    decision: Decision,
    hits: list[Hit],
    request: Request | None,
) -> Message:
    trail = [asdict(h) for h in hits]
    if decision.action == "hold" and decision.detail:
        trail.append({"rule": "route", "reason": decision.detail})
    return Message(
        mailbox_id=mailbox.id,
        request=request,
        remote_key=remote.key,
        message_id_header=headers.message_id,
        sha256=headers.sha256,
        direction="in",
        sender=headers.sender,
        subject=headers.subject,
        size=headers.size,
        raw=remote.raw,
        status="held" if decision.action == "hold" else "routed",
        held_reason=decision.reason if decision.action == "hold" else None,
        rule_hits=trail,
    )
