"""Who took part in a request: only they may add to it by naming it (In-Reply-To, References,
a `[#N]` token), so nobody joins a request whose Message-ID or number they merely learnt.

Taking part means: the requester, the sender of an email in its thread (ours included), or a
recipient of an email sent for it. A workflow may also admit colleagues: anyone of the same
domain as someone who took part (`thread_same_domain`, an administrator's choice).
"""

from __future__ import annotations

from sqlalchemy import select, union_all
from sqlalchemy.orm import Session

from postroom.domain import validate
from postroom.errors import InvalidInput
from postroom.storage.models import Message, OutboxItem, OutboxRecipient, Request


def normalised(address: str) -> str:
    """One spelling per mailbox: lower case, an international domain in its IDNA form."""
    try:
        return validate.address(address).lower()
    except InvalidInput:
        return address.strip().lower()


def _domain(address: str) -> str:
    return address.rpartition("@")[2]


class Participants:
    """The participants of each request a batch meets, loaded once, kept up to date."""

    def __init__(self, db: Session) -> None:
        self.db = db
        self._known: dict[Request, set[str]] = {}

    def of(self, request: Request) -> set[str]:
        if request not in self._known:
            self._known[request] = self._load(request)
        return self._known[request]

    def add(self, request: Request, address: str) -> None:
        if address:
            self.of(request).add(normalised(address))

    def refusal(self, request: Request, sender: str) -> str | None:
        """None when `sender` may join `request`; otherwise why not, for the rule trail."""
        people = self.of(request)
        address = normalised(sender) if sender else ""
        if address and address in people:
            return None
        if address and request.workflow.thread_same_domain:
            if _domain(address) in {_domain(p) for p in people}:
                return None
            return (
                f"{address} took no part in request #{request.id}, nor does anyone of its "
                "domain: it may not join it"
            )
        who = address or "a sender without a readable From"
        return (
            f"{who} took no part in request #{request.id} (not its requester, nor a sender or "
            "recipient of its emails): it may not join it"
        )

    def _load(self, request: Request) -> set[str]:
        people = {normalised(request.requester)} if request.requester else set()
        if request.id is None:  # opened in this batch: its first sender is its requester
            return people
        query = union_all(
            select(Message.sender).where(Message.request_id == request.id),
            select(OutboxItem.sender).where(OutboxItem.request_id == request.id),
            select(OutboxRecipient.address)
            .join(OutboxItem, OutboxRecipient.item_id == OutboxItem.id)
            .where(OutboxItem.request_id == request.id),
        )
        people.update(normalised(a) for a in self.db.scalars(query) if a)
        return people
