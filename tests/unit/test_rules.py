"""The inbound rules: what may open a request, what may only join a thread, what is held."""

from __future__ import annotations

import email.policy
import hashlib
from email.message import EmailMessage
from email.parser import Parser
from email.utils import getaddresses, parseaddr

import pytest

from postroom.domain.messages import Headers, Hit
from postroom.inbound.rules import (
    CHAIN,
    VERDICTS,
    RuleContext,
    Verdict,
    human_size,
    run_chain,
    verdict,
)

DESK = "desk@postroom.example"
SALES = "sales@postroom.example"
OURS = RuleContext(own_addresses=frozenset({DESK, SALES}))
HUMAN = f"""\
From: Ann Example <ann@Example.ORG>
To: {DESK}
Subject: Printer on fire
Date: Mon, 24 Nov 2025 09:30:00 +0100
Message-ID: <abc123@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
"""


def headers_from(text: str, *, size: int | None = None) -> Headers:
    """`Headers` from real RFC 5322 header text, parsed by the stdlib as parse.py will."""
    parsed: EmailMessage = Parser(policy=email.policy.default).parsestr(text, headersonly=True)
    raw: dict[str, tuple[str, ...]] = {}
    for name, value in parsed.items():
        raw[name.lower()] = (*raw.get(name.lower(), ()), str(value))
    name, address = parseaddr(str(parsed.get("From", "")))
    local, _, domain = address.rpartition("@")
    data = text.encode()
    return Headers(
        message_id=str(parsed.get("Message-ID", "")),
        message_id_present="Message-ID" in parsed,
        in_reply_to=(),
        references=(),
        subject=str(parsed.get("Subject", "")),
        sender=f"{local}@{domain.lower()}" if local else "",
        sender_name=name,
        to=tuple(addr for _, addr in getaddresses([str(v) for v in parsed.get_all("To", [])])),
        cc=(),
        date=None,
        content_type=parsed.get_content_type(),
        report_type=str(parsed.get_param("report-type", "")).lower(),
        size=len(data) if size is None else size,
        sha256=hashlib.sha256(data).hexdigest(),
        raw_headers=raw,
    )


def with_headers(extra: str, base: str = HUMAN) -> Headers:
    """The human email above with `extra` header lines added (or From/Subject replaced)."""
    replaced = {line.split(":", 1)[0].lower() for line in extra.splitlines() if line}
    kept = [line for line in base.splitlines() if line.split(":", 1)[0].lower() not in replaced]
    return headers_from("\n".join([*kept, *extra.splitlines()]) + "\n")


def rules_hit(msg: Headers, context: RuleContext = OURS) -> list[str]:
    return [hit.rule for hit in run_chain(msg, context)]


# What must not be flagged


def test_a_normal_human_email_hits_nothing_and_may_open_a_request() -> None:
    hits = run_chain(headers_from(HUMAN), OURS)
    assert hits == []
    assert verdict(hits) is Verdict.OPEN_OR_THREAD


def test_auto_submitted_no_is_a_person_writing() -> None:
    assert rules_hit(with_headers("Auto-Submitted: no")) == []


def test_auto_submitted_no_with_a_comment_is_still_a_person_writing() -> None:
    assert rules_hit(with_headers("Auto-Submitted: no (sent by hand)")) == []


def test_an_outlook_meeting_request_with_a_suppress_header_is_not_an_auto_reply() -> None:
    msg = with_headers("X-Auto-Response-Suppress: All\nSubject: Project kickoff\nX-Mailer: Outlook")
    assert rules_hit(msg) == []


def test_a_person_writing_from_one_own_mailbox_to_another_is_not_own_mail() -> None:
    msg = with_headers(f"From: Sales Team <{SALES}>")
    assert rules_hit(msg) == []


def test_a_null_return_path_alone_is_not_a_bounce() -> None:
    assert rules_hit(with_headers("Return-Path: <>\nSubject: Our November newsletter")) == []


# Auto-replies (RFC 3834) never open a request


def test_an_out_of_office_reply_never_opens_a_request() -> None:
    msg = with_headers("Auto-Submitted: auto-replied\nSubject: Out of Office: Printer on fire")
    hits = run_chain(msg, OURS)
    assert hits == [Hit("auto-reply", "Auto-Submitted: auto-replied")]
    assert verdict(hits) is Verdict.THREAD_ONLY


@pytest.mark.parametrize(
    "value", ["auto-generated", "Auto-Replied; owner-email=ann@example.org", "auto-notified"]
)
def test_any_auto_submitted_but_no_is_an_auto_reply_whatever_its_case_or_parameters(
    value: str,
) -> None:
    hits = run_chain(with_headers(f"Auto-Submitted: {value}"), RuleContext())
    assert [h.reason for h in hits] == [f"Auto-Submitted: {value.split(';')[0].lower()}"]


@pytest.mark.parametrize("value", ["bulk", "Junk", "list", "auto_reply"])
def test_bulk_precedence_is_an_auto_reply(value: str) -> None:
    hits = run_chain(with_headers(f"Precedence: {value}"), OURS)
    assert hits == [Hit("auto-reply", f"Precedence: {value.lower()}")]


@pytest.mark.parametrize("header", ["X-Autoreply", "X-Autorespond", "X-Auto-Reply"])
def test_an_autoreply_header_marks_an_auto_reply(header: str) -> None:
    hits = run_chain(with_headers(f"{header}: yes"), OURS)
    assert hits == [Hit("auto-reply", f"{header} present")]


@pytest.mark.parametrize("subject", ["Automatic reply: Printer on fire", "Out of Office"])
def test_an_exchange_out_of_office_without_auto_submitted_is_caught_by_its_subject(
    subject: str,
) -> None:
    msg = with_headers(f"X-Auto-Response-Suppress: All\nSubject: {subject}")
    assert rules_hit(msg) == ["auto-reply"]


def test_an_exchange_generated_message_with_a_suppress_header_is_an_auto_reply() -> None:
    msg = with_headers(
        "X-Auto-Response-Suppress: DR, OOF, AutoReply\n"
        "X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent"
    )
    hits = run_chain(msg, OURS)
    assert [h.rule for h in hits] == ["auto-reply"]
    assert "x-ms-exchange-generated-message-source" in hits[0].reason


def test_a_suppress_header_without_an_auto_flag_is_not_an_auto_reply() -> None:
    msg = with_headers("X-Auto-Response-Suppress: RN, NRN\nSubject: Automatic reply: hi")
    assert rules_hit(msg) == []


# Lists


@pytest.mark.parametrize(
    "line",
    [
        "List-Id: Printers <printers.lists.example.org>",
        "List-Unsubscribe: <mailto:leave@lists.example.org>",
        "List-Post: <mailto:printers@lists.example.org>",
    ],
)
def test_list_mail_never_opens_a_request(line: str) -> None:
    hits = run_chain(with_headers(line), OURS)
    assert hits == [Hit("list-mail", f"list mail: {line.replace(':', '', 1)}")]
    assert verdict(hits) is Verdict.THREAD_ONLY


# Bounces


DSN = f"""\
From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
To: {DESK}
Subject: Undelivered Mail Returned to Sender
Return-Path: <>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"
"""


def test_a_delivery_status_notification_is_a_bounce_and_never_opens_a_request() -> None:
    hits = run_chain(headers_from(DSN), OURS)
    assert hits == [Hit("bounce", "multipart/report; report-type=delivery-status")]
    assert verdict(hits) is Verdict.THREAD_ONLY


def test_a_read_receipt_is_a_machine_report_too() -> None:
    msg = with_headers(
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="x"'
    )
    assert [h.reason for h in run_chain(msg, OURS)] == [
        "multipart/report; report-type=disposition-notification"
    ]


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example.org", "Postmaster@example.org"])
def test_mail_from_mailer_daemon_or_postmaster_is_a_bounce(sender: str) -> None:
    assert rules_hit(with_headers(f"From: {sender}")) == ["bounce"]


@pytest.mark.parametrize("field", ["MAILER-DAEMON", "Mail Delivery Subsystem <MAILER-DAEMON>"])
def test_mail_from_mailer_daemon_without_a_domain_is_a_bounce(field: str) -> None:
    msg = with_headers(f"From: {field}")
    assert msg.sender == ""  # no valid address, so no requester
    assert rules_hit(msg) == ["bounce"]


@pytest.mark.parametrize(
    "subject",
    ["Undeliverable: Printer on fire", "Delivery Status Notification (Failure)", "failure notice"],
)
def test_a_null_return_path_with_a_bounce_subject_is_a_bounce(subject: str) -> None:
    msg = with_headers(f"Return-Path: <>\nSubject: {subject}\nFrom: mail@mx.example.org")
    assert rules_hit(msg) == ["bounce"]


# Our own mail


def test_mail_with_the_outbox_mark_is_our_own_and_never_opens_a_request() -> None:
    hits = run_chain(with_headers("X-Postroom-Outbox: 42"), OURS)
    assert hits == [Hit("own-mail", "X-Postroom-Outbox: 42")]
    assert verdict(hits) is Verdict.THREAD_ONLY


def test_automatic_mail_from_an_own_address_is_own_mail_whatever_its_case() -> None:
    msg = with_headers("From: Desk <Desk@Postroom.Example>\nAuto-Submitted: auto-generated")
    assert rules_hit(msg) == ["auto-reply", "own-mail"]


# Held: oversize and sender rate


def test_mail_over_the_size_limit_is_held_with_both_sizes_in_the_reason() -> None:
    msg = headers_from(HUMAN, size=30 * 1024 * 1024 + 1)
    hits = run_chain(msg, OURS)
    assert hits == [Hit("oversize", "30 MiB (31,457,281 bytes) is over the 25 MiB limit")]
    assert verdict(hits) is Verdict.HOLD


def test_mail_exactly_at_the_size_limit_is_not_oversize() -> None:
    assert rules_hit(headers_from(HUMAN, size=OURS.max_size)) == []


@pytest.mark.parametrize(
    ("size", "text"), [(512, "512 bytes"), (1536, "1.5 KiB"), (25 * 1024**2, "25 MiB")]
)
def test_sizes_read_in_binary_units(size: int, text: str) -> None:
    assert human_size(size) == text


def test_a_sender_at_the_rate_limit_is_held() -> None:
    counts = {"ann@example.org": 20}
    context = RuleContext(recent_from_sender=lambda sender: counts.get(sender, 0))
    hits = run_chain(headers_from(HUMAN), context)
    assert hits == [
        Hit("sender-rate", "20 messages from ann@example.org in the window; the limit is 20")
    ]
    assert verdict(hits) is Verdict.HOLD


def test_a_sender_below_the_rate_limit_passes() -> None:
    context = RuleContext(sender_rate_limit=20, recent_from_sender=lambda sender: 19)
    assert rules_hit(headers_from(HUMAN), context) == []


def test_mail_without_a_sender_is_not_counted() -> None:
    def must_not_be_asked(sender: str) -> int:
        raise AssertionError(f"asked about {sender!r}")

    msg = headers_from(HUMAN.replace("From: Ann Example <ann@Example.ORG>\n", ""))
    assert msg.sender == ""
    assert rules_hit(msg, RuleContext(recent_from_sender=must_not_be_asked)) == []


# The chain and the verdict


def test_every_rule_runs_so_the_console_can_explain_every_reason() -> None:
    msg = headers_from(DSN, size=26 * 1024 * 1024)
    hits = run_chain(msg, RuleContext(recent_from_sender=lambda sender: 99))
    assert [h.rule for h in hits] == ["bounce", "oversize", "sender-rate"]


def test_hold_wins_over_thread_only() -> None:
    hits = [Hit("auto-reply", "Auto-Submitted: auto-replied"), Hit("oversize", "big")]
    assert verdict(hits) is Verdict.HOLD


def test_a_hit_from_an_unknown_rule_holds_the_message() -> None:
    assert verdict([Hit("someone-elses-rule", "?")]) is Verdict.HOLD


def test_the_chain_runs_in_the_documented_order_and_every_rule_has_a_verdict() -> None:
    names = [rule.name for rule in CHAIN]
    assert names == ["auto-reply", "list-mail", "bounce", "own-mail", "oversize", "sender-rate"]
    assert set(names) == set(VERDICTS)
    assert all(rule.description for rule in CHAIN)


def test_the_context_defaults_are_25_mib_and_20_messages() -> None:
    context = RuleContext()
    assert (context.max_size, context.sender_rate_limit) == (25 * 1024 * 1024, 20)
    assert context.recent_from_sender("ann@example.org") == 0
