"""A delegate sending on behalf of a shared mailbox: From stays the shared address and Sender
names the delegate (RFC 5322 3.6.2); the delegate's address is checked like every header."""

from __future__ import annotations

import email
from email import policy

import pytest

from postroom.errors import InvalidInput
from postroom.outbound.compose import Draft, compose

DESK = "desk@contoso.example"
ANN = "ann@contoso.example"
MESSAGE_ID = "<0123456789abcdef@contoso.example>"


def _headers(draft: Draft) -> email.message.Message:
    return email.message_from_bytes(compose(draft, MESSAGE_ID, 1), policy=policy.default)


def test_on_behalf_adds_sender_and_keeps_from() -> None:
    message = _headers(Draft(sender=DESK, delegate=ANN, to=("c@example.org",), text="Hi\n"))
    assert (message["From"], message["Sender"]) == (DESK, ANN)


@pytest.mark.parametrize("delegate", [None, DESK])
def test_own_mail_and_send_as_carry_no_sender(delegate: str | None) -> None:
    message = _headers(Draft(sender=DESK, delegate=delegate, to=("c@example.org",), text="Hi\n"))
    assert (message["From"], message["Sender"]) == (DESK, None)


@pytest.mark.parametrize("bad", ["ann\r\nBcc: victim@evil.example", "not an address"])
def test_a_bad_delegate_address_is_refused_before_queueing(bad: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        compose(Draft(sender=DESK, delegate=bad, to=("c@example.org",)), MESSAGE_ID, 1)
    assert refused.value.field == "delegate"
