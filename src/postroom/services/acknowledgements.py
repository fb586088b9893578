"""The email that tells a sender their request was opened, one workflow's choice.

It answers only mail that opened a request: auto-replies, bounces, list mail and our own mail
never do (their rules hold or thread them), and a sender gets at most
`POSTROOM_ACKNOWLEDGEMENT_LIMIT` a day, so two auto-responders that slip past every header rule
still cannot loop for long (RFC 3834 section 2).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from string import Template

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postroom.config import get_settings
from postroom.domain.messages import Headers
from postroom.errors import InvalidInput
from postroom.outbound.compose import Draft, usable_message_id
from postroom.services import audit, outbox, request_history, workflows
from postroom.services.actors import Actor
from postroom.storage.models import Mailbox, OutboxItem, OutboxRecipient, Request, Workflow, utcnow

log = logging.getLogger(__name__)
WINDOW = timedelta(days=1)
DEFAULT_SUBJECT = "We received your request: $subject"
PLACEHOLDERS = ("request", "subject", "requester", "workflow")
AUTOMATIC = Actor(label="acknowledgement", is_admin=True)
# Local parts that name software, not people (RFC 3834 section 2, RFC 2142).
_NEVER_ANSWER = frozenset(
    {
        "mailer-daemon",
        "postmaster",
        "listserv",
        "majordomo",
        "noreply",
        "no-reply",
        "donotreply",
        "do-not-reply",
        "bounce",
        "bounces",
    }
)


def configure(
    db: Session, actor: Actor, workflow: str, *, body: str | None, subject: str | None = None
) -> Workflow:
    """Turn a workflow's acknowledgement on with this text, or off with `body=None`."""
    actor.require_admin("change workflows")
    row = workflows.get(db, workflow)
    if body is None:
        row.acknowledgement_subject = row.acknowledgement_body = None
        audit.record(db, actor, "workflow.acknowledgement-off", row.name)
        return row
    if not body.strip():
        raise InvalidInput("The acknowledgement text is empty: write one.", field="body")
    chosen = (subject or DEFAULT_SUBJECT).strip()
    for field, text in (("subject", chosen), ("body", body)):
        _check_template(text, field)
    row.acknowledgement_subject, row.acknowledgement_body = chosen, body
    audit.record(db, actor, "workflow.acknowledgement-on", row.name)
    return row


def _check_template(text: str, field: str) -> None:
    try:
        Template(text).substitute({name: "" for name in PLACEHOLDERS})
    except (KeyError, ValueError) as exc:
        raise InvalidInput(
            f"The acknowledgement {field} has an unknown or broken placeholder ({exc}): use "
            + ", ".join(f"${name}" for name in PLACEHOLDERS)
            + ", and $$ for a dollar sign.",
            field=field,
        ) from exc


class Acknowledger:
    """Acknowledgements for one batch of one mailbox, queued in the batch's transaction."""

    def __init__(self, db: Session, mailbox: Mailbox, own_addresses: frozenset[str]) -> None:
        self.db, self.mailbox, self.own = db, mailbox, own_addresses
        self.limit = get_settings().acknowledgement_limit
        self.counts: Counter[str] = Counter()
        self.loaded: set[str] = set()

    @staticmethod
    def wanted(mailbox: Mailbox) -> bool:
        workflow = mailbox.workflow
        return (
            workflow is not None
            and workflow.acknowledgement_body is not None
            and mailbox.outgoing_server is not None
            and mailbox.send_enabled
        )

    def __call__(self, request: Request, headers: Headers) -> None:
        sender = headers.sender
        if not sender or sender in self.own or _is_software(sender):
            return
        if self._sent_lately(sender) >= self.limit:
            return
        workflow = self.mailbox.workflow
        assert workflow is not None and workflow.acknowledgement_body is not None
        self.db.flush()  # the request's number goes into the subject
        values = {
            "request": str(request.id),
            "subject": headers.subject,
            "requester": sender,
            "workflow": workflow.name,
        }
        draft = Draft(
            sender=self.mailbox.address,
            sender_name=self.mailbox.display_name,
            to=(sender,),
            subject=Template(workflow.acknowledgement_subject or DEFAULT_SUBJECT).safe_substitute(
                values
            ),
            text=Template(workflow.acknowledgement_body).safe_substitute(values),
            in_reply_to=usable_message_id(
                headers.message_id if headers.message_id_present else None
            ),
            request_id=request.id,
            auto="auto-replied",
        )
        try:
            item = outbox.enqueue(
                self.db,
                AUTOMATIC,
                draft,
                request_id=request.id,
                sending=self.mailbox,
                kind="acknowledgement",
                audited=False,  # one a new request; the outbox item itself is the record
            )
        except InvalidInput as exc:  # an address we cannot write to: the request stands
            log.warning("no acknowledgement for request %s: %s", request.id, exc)
            return
        request_history.outgoing(self.db, item, request, "postroom", "acknowledged")
        self.counts[sender] += 1

    def _sent_lately(self, sender: str) -> int:
        if sender not in self.loaded:
            since = utcnow() - WINDOW
            self.counts[sender] += (
                self.db.scalar(
                    select(func.count())
                    .select_from(OutboxRecipient)
                    .join(OutboxItem, OutboxItem.id == OutboxRecipient.item_id)
                    .where(
                        OutboxRecipient.address == sender,
                        OutboxItem.kind == "acknowledgement",
                        OutboxItem.created_at >= since,
                    )
                )
                or 0
            )
            self.loaded.add(sender)
        return self.counts[sender]


def _is_software(address: str) -> bool:
    local = address.rpartition("@")[0].lower()
    return (
        local in _NEVER_ANSWER
        or local.startswith("owner-")
        or local.endswith("-request")
        or local.endswith("-bounces")
    )
