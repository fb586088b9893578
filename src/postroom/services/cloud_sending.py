"""The outbox's two OAuth2 seams, kept out of the queue logic: opening SMTP with a token that
is renewed once when refused, and sending through a mail API (Graph's sendMail, Gmail's
messages.send) instead of SMTP, with the same per-recipient outcome the queue records."""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from postroom.connectors import shared_rights
from postroom.connectors.registry import API_SENDERS, open_api_sender
from postroom.connectors.smtp import open_smtp
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.errors import (
    AnswerLost,
    AuthFailed,
    PostroomError,
    Throttled,
    Transient,
    Unreachable,
)
from postroom.outbound.sender import Outcome
from postroom.services import tokens

SEND_AS_DENIED = ("SendAsDenied", "5.7.60")  # Exchange Online's SMTP refusals of a From


def explain_refusals(outcome: Outcome, credentials: Credentials | None, raw: bytes) -> Outcome:
    """A delegate's email refused by Exchange for want of Send As / Send on Behalf: the
    recipients' outcome names the right and who grants it, not only the server's words."""
    if credentials is None or credentials.delegate is None:
        return outcome
    for address, (code, text) in list(outcome.refused.items()):
        if any(mark in text for mark in SEND_AS_DENIED):
            on_behalf = shared_rights.sends_on_behalf(raw)
            why = shared_rights.send_right(credentials.login, credentials.delegate, on_behalf)
            outcome.refused[address] = (code, f"{why} (the server said: {text})")
    return outcome


def sends_through_api(endpoint: Endpoint) -> bool:
    return endpoint.protocol in API_SENDERS


def open_smtp_renewing(
    engine: Engine, endpoint: Endpoint, credentials: Credentials | None, mailbox_id: int | None
) -> smtplib.SMTP:
    """XOAUTH2 with a refused token: renew once and sign in again (then needs-reconnect)."""
    if credentials is None or not credentials.bearer or mailbox_id is None:
        return open_smtp(endpoint, credentials)
    return tokens.with_renewal(
        engine, mailbox_id, credentials, lambda given: open_smtp(endpoint, given)
    )


def send_through_api(
    engine: Engine,
    endpoint: Endpoint,
    credentials: Credentials | None,
    mailbox_id: int | None,
    pending: Sequence[str],
    raw: bytes,
    before_send: Callable[[], None],
) -> Outcome:
    """One request for all recipients. `before_send` records the moment it goes out, as the
    final dot does for SMTP: a lost answer makes the item "uncertain", never sent twice."""

    def attempt(given: Credentials) -> None:
        sender = open_api_sender(endpoint, given)
        try:
            before_send()
            sender.send(raw, pending)
        finally:
            sender.close()

    if credentials is None or mailbox_id is None:
        return Outcome(deferred={a: (0, "the mailbox is not signed in") for a in pending})
    try:
        tokens.with_renewal(engine, mailbox_id, credentials, attempt)
    except AnswerLost as exc:
        return Outcome(uncertain=str(exc))
    except Throttled as exc:  # the outbox's limiter waits, and slows this mailbox down
        return Outcome(deferred={a: (429, str(exc)) for a in pending}, retry_after=exc.retry_after)
    except (Transient, Unreachable, AuthFailed) as exc:  # wait: throttled, down, or signed out
        return Outcome(deferred={a: (0, str(exc)) for a in pending})
    except PostroomError as exc:
        return Outcome(refused={a: (0, str(exc)) for a in pending})
    return Outcome(accepted=list(pending))
