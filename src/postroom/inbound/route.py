"""Where a message goes: the thread it answers, a new request, or held with its reason."""

from __future__ import annotations

from dataclasses import dataclass

from postroom.domain.messages import SUBJECT_TOKEN, Headers, Hit
from postroom.inbound.rules import VERDICTS, Verdict
from postroom.storage.models import Request, Workflow


@dataclass(frozen=True)
class Decision:
    action: str  # "open", "thread" or "hold"
    request: Request | None = None
    reason: str | None = None  # a short code for held messages: "workflow-inactive", "bounce"…
    detail: str | None = None  # a sentence a person can act on


def subject_token(subject: str) -> int | None:
    match = SUBJECT_TOKEN.search(subject)
    return int(match.group(1)) if match else None


def thread_ids(headers: Headers) -> list[str]:
    """Message-IDs that tie this message to a thread, nearest first."""
    ids = [*headers.in_reply_to, *reversed(headers.references)]
    if headers.message_id_present:
        ids.append(headers.message_id)  # another copy of an email we already routed
    return ids


def decide(
    verdict: Verdict, hits: list[Hit], thread: Request | None, workflow: Workflow | None
) -> Decision:
    if verdict is Verdict.HOLD:
        hit = next(h for h in hits if VERDICTS.get(h.rule, Verdict.HOLD) is Verdict.HOLD)
        return Decision("hold", reason=hit.rule, detail=hit.reason)
    if thread is not None:
        return Decision("thread", request=thread)
    if verdict is Verdict.THREAD_ONLY:
        hit = hits[0]
        return Decision(
            "hold",
            reason=hit.rule,
            detail=f"{hit.reason}; it answers no known request, so it opens none",
        )
    if workflow is None:
        return Decision("hold", reason="no-workflow", detail="The mailbox is tied to no workflow.")
    if workflow.deleted_at is not None:
        return Decision(
            "hold", reason="workflow-deleted", detail=f"Workflow {workflow.name} was removed."
        )
    if not workflow.active:
        return Decision(
            "hold", reason="workflow-inactive", detail=f"Workflow {workflow.name} is inactive."
        )
    return Decision("open")
