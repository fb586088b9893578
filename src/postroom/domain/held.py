"""Why a message is held, and which reasons are machine mail that may be forgotten in time.

Machine mail (an auto-reply, a bounce, list mail, our own mail coming back) that answers no
known request carries no work; every other reason means a person has to look."""

from __future__ import annotations

MACHINE_MAIL = ("auto-reply", "bounce", "list-mail", "own-mail")
NEEDS_A_PERSON = (
    "unparseable",
    "oversize",
    "sender-rate",
    "no-workflow",
    "workflow-inactive",
    "workflow-deleted",
    "failed",
)
HELD_REASONS = MACHINE_MAIL + NEEDS_A_PERSON

DEFAULT_RETENTION_DAYS = 30  # machine mail only; the rest is kept until a person acts
MAX_RETENTION_DAYS = 36_500


def default_retention(reason: str) -> int | None:
    return DEFAULT_RETENTION_DAYS if reason in MACHINE_MAIL else None


def kind(reason: str) -> str:
    return "machine mail" if reason in MACHINE_MAIL else "needs a person"
