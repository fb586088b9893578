"""Composing outbound email: what is refused before queueing, and the bytes that are sent."""

from __future__ import annotations

import email
from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage

import pytest

from postroom.errors import InvalidInput
from postroom.inbound.parse import parse_headers
from postroom.inbound.route import subject_token
from postroom.inbound.rules import OwnMail, RuleContext
from postroom.outbound.compose import (
    MAX_RECIPIENTS,
    Attachment,
    Draft,
    check,
    compose,
    new_message_id,
    recipients,
    subject_with_token,
)
from postroom.outbound.links import rewrite_links

DESK = "desk@postroom.example"
ANN = "ann@example.org"
MESSAGE_ID = "<0123456789abcdef@postroom.example>"
PARENT = "<parent-1@example.org>"
INJECTION = "x\r\nBcc: victim@evil.example"


def draft(**changes: object) -> Draft:
    base = Draft(sender=DESK, to=(ANN,), subject="Printer on fire", text="It is out now.\n")
    return replace(base, **changes)  # type: ignore[arg-type]


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def sent(d: Draft, outbox_id: int = 7) -> EmailMessage:
    return parsed(compose(d, MESSAGE_ID, outbox_id))


def sent_id(raw: bytes) -> str:
    return str(parsed(raw)["Message-ID"])


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("sender", {"sender": DESK + "\r\nBcc: victim@evil.example"}),
        ("sender_name", {"sender_name": INJECTION}),
        ("subject", {"subject": INJECTION}),
        ("to", {"to": (ANN, "bob@example.org\nBcc: victim@evil.example")}),
        ("cc", {"cc": (ANN + "\r\n",)}),
        ("bcc", {"bcc": ("bob@example.org\r",)}),
        ("reply_to", {"reply_to": ANN + "\r\nX-Evil: 1"}),
        ("in_reply_to", {"in_reply_to": PARENT + "\r\nX-Evil: 1"}),
        ("references", {"references": (PARENT, "<a@b>\nX-Evil: 1")}),
        ("attachments", {"attachments": (Attachment("a.txt\r\nX-Evil: 1", "text/plain", b""),)}),
        ("attachments", {"attachments": (Attachment("a.txt", "text/plain\r\nX-Evil: 1", b""),)}),
    ],
)
def test_a_line_break_in_any_header_field_is_refused(
    field: str, changes: dict[str, object]
) -> None:
    with pytest.raises(InvalidInput, match="line break") as refused:
        check(draft(**changes))
    assert refused.value.field == field


@pytest.mark.parametrize("breaker", ["\r", "\n", "\x00", "\x0b", "\x85", "\u2028"])
def test_every_character_that_ends_a_line_is_refused_in_a_subject(breaker: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check(draft(subject=f"Hello{breaker}X-Evil: 1"))
    assert refused.value.field == "subject"


@pytest.mark.parametrize("field", ["sender", "to", "cc", "bcc", "reply_to"])
def test_an_invalid_address_is_refused_naming_its_field(field: str) -> None:
    bad = "ann at example.org"
    value: object = (bad,) if field in ("to", "cc", "bcc") else bad
    with pytest.raises(InvalidInput, match="not a valid email address") as refused:
        check(draft(**{field: value}))
    assert refused.value.field == field


def test_addresses_come_back_normalised() -> None:
    checked = check(draft(sender=" Desk@Postroom.EXAMPLE ", to=("Ann@Example.ORG",)))
    assert (checked.sender, checked.to) == ("Desk@postroom.example", ("Ann@example.org",))


def test_an_email_without_any_recipient_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no recipient") as refused:
        check(draft(to=()))
    assert refused.value.field == "to"


def test_an_email_to_bcc_only_is_accepted_and_says_undisclosed_recipients() -> None:
    message = sent(draft(to=(), bcc=(ANN,)))
    assert str(message["To"]) == "undisclosed-recipients:;"


def test_more_than_500_recipients_are_refused() -> None:
    many = tuple(f"r{i}@example.org" for i in range(MAX_RECIPIENTS + 1))
    with pytest.raises(InvalidInput, match="at most 500"):
        check(draft(to=many[:200], cc=many[200:400], bcc=many[400:]))


def test_exactly_500_recipients_are_accepted() -> None:
    many = tuple(f"r{i}@example.org" for i in range(MAX_RECIPIENTS))
    assert len(recipients(check(draft(to=many)))) == MAX_RECIPIENTS


@pytest.mark.parametrize("value", ["parent-1@example.org", "<parent-1>", "<a@b> <c@d>", "<>"])
@pytest.mark.parametrize("field", ["in_reply_to", "references"])
def test_a_message_id_without_angle_brackets_and_at_is_refused(field: str, value: str) -> None:
    changes: dict[str, object] = {field: (value,) if field == "references" else value}
    with pytest.raises(InvalidInput, match="not a Message-ID") as refused:
        check(draft(**changes))
    assert refused.value.field == field


@pytest.mark.parametrize(
    "content_type",
    ["pdf", "application/pdf; name=x", "text/", "multipart/mixed", "message/partial"],
)
def test_an_attachment_type_that_is_not_a_single_media_type_is_refused(content_type: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check(draft(attachments=(Attachment("a.pdf", content_type, b"%PDF"),)))
    assert refused.value.field == "attachments"


def test_an_unknown_auto_submitted_value_is_refused() -> None:
    with pytest.raises(InvalidInput, match="auto-replied or auto-generated") as refused:
        check(draft(auto="auto-notified"))
    assert refused.value.field == "auto"


def test_bcc_is_in_the_envelope_but_in_no_header() -> None:
    d = check(draft(cc=("carl@example.org",), bcc=("secret@example.org",)))
    raw = compose(d, MESSAGE_ID, 7)
    assert b"secret@example.org" not in raw
    assert "Bcc" not in parsed(raw)
    assert recipients(d) == [ANN, "carl@example.org", "secret@example.org"]


def test_the_envelope_names_each_recipient_once_in_order() -> None:
    d = draft(to=(ANN, "bob@example.org"), cc=("Ann@example.org",), bcc=("bob@example.org",))
    assert recipients(check(d)) == [ANN, "bob@example.org"]


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Printer on fire", "Printer on fire [#42]"),
        ("Re: Printer on fire [#42]", "Re: Printer on fire [#42]"),
        ("[#42] Printer on fire", "[#42] Printer on fire"),
        ("", "[#42]"),
    ],
)
def test_the_request_token_is_added_exactly_once(subject: str, expected: str) -> None:
    message = sent(draft(subject=subject, request_id=42))
    assert str(message["Subject"]) == expected
    assert subject_with_token(expected, 42) == expected


def test_another_requests_token_gives_way_so_replies_reach_this_request() -> None:
    assert subject_with_token("Fwd: Invoice [#7]", 42) == "Fwd: Invoice [#42]"


def test_inbound_routing_reads_the_token_compose_writes() -> None:
    raw = compose(draft(subject="Grüße [#7]", request_id=42), MESSAGE_ID, 7)
    assert subject_token(parse_headers(raw).subject) == 42


@pytest.mark.parametrize("auto", ["auto-replied", "auto-generated"])
def test_automatic_mail_says_so_in_auto_submitted(auto: str) -> None:
    assert sent(draft(auto=auto))["Auto-Submitted"] == auto


def test_mail_a_person_wrote_carries_no_auto_submitted() -> None:
    assert "Auto-Submitted" not in sent(draft())


def test_our_mail_coming_back_is_recognised_as_our_own() -> None:
    headers = parse_headers(compose(draft(), MESSAGE_ID, 1234))
    hit = OwnMail().check(headers, RuleContext(own_addresses=frozenset()))
    assert hit is not None
    assert "1234" in hit.reason


def test_a_reply_names_its_parent_in_in_reply_to_and_last_in_references() -> None:
    message = sent(draft(in_reply_to=PARENT, references=("<root@example.org>",)))
    assert message["In-Reply-To"] == PARENT
    assert message["References"].split() == ["<root@example.org>", PARENT]


def test_the_parent_is_not_repeated_when_references_already_end_with_it() -> None:
    message = sent(draft(in_reply_to=PARENT, references=("<root@example.org>", PARENT)))
    assert message["References"].split() == ["<root@example.org>", PARENT]


def test_long_message_ids_are_folded_whole_and_never_encoded() -> None:
    long_ids = tuple(f"<{'x' * 90}-{i}@example.org>" for i in range(3))
    raw = compose(draft(in_reply_to=long_ids[-1], references=long_ids), MESSAGE_ID, 7)
    assert b"=?" not in raw
    headers = parse_headers(raw)
    assert (headers.in_reply_to, headers.references) == ((long_ids[-1],), long_ids)


def test_a_non_ascii_subject_and_sender_name_round_trip() -> None:
    subject = "Grüße aus Köln — Überweisung für 2025, bitte prüfen und schnell bestätigen"
    message = sent(draft(subject=subject, sender_name='Zoë "Desk", Köln'))
    assert str(message["Subject"]) == subject
    sender = message["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ('Zoë "Desk", Köln', DESK)


def test_the_headers_are_ascii_and_lines_end_with_crlf() -> None:
    raw = compose(draft(subject="Grüße", sender_name="Zoë"), MESSAGE_ID, 7)
    header_section = raw.split(b"\r\n\r\n", 1)[0]
    header_section.decode("ascii")
    assert raw.count(b"\n") == raw.count(b"\r\n")


def test_attachments_keep_their_file_name_and_bytes() -> None:
    files = (
        Attachment("résumé ünï.pdf", "application/pdf", b"%PDF-1.7\x00\xff\r\n"),
        Attachment("notes.txt", "text/plain", b"line one\nline two\n"),
    )
    message = sent(draft(attachments=files))
    assert message.get_content_type() == "multipart/mixed"
    kept = [
        (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
        for part in message.iter_attachments()
    ]
    assert kept == [(a.filename, a.content_type, a.data) for a in files]


def test_an_attached_email_is_sent_as_message_rfc822_not_base64() -> None:
    forwarded = b"From: bob@example.org\r\nSubject: Original\r\n\r\nHello\r\n"
    raw = compose(
        draft(attachments=(Attachment("x.eml", "message/rfc822", forwarded),)), "<a@b>", 7
    )
    part = next(parsed(raw).iter_attachments())
    inner = part.get_content()
    assert (part.get_filename(), inner["Subject"]) == ("x.eml", "Original")
    assert b"Content-Transfer-Encoding: base64" not in raw


def test_text_and_html_become_multipart_alternative() -> None:
    message = sent(draft(text="Hello\n", html="<p>Hello</p>"))
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message.get_body(("html",)).get_content().strip() == "<p>Hello</p>"  # type: ignore[union-attr]


def test_html_only_mail_still_has_a_text_alternative() -> None:
    message = sent(draft(text="", html="<p>Your request <b>42</b> is done.</p>"))
    plain = message.get_body(("plain",))
    assert plain is not None
    assert "Your request 42 is done." in plain.get_content()


def test_text_attachments_and_html_nest_alternative_inside_mixed() -> None:
    d = draft(
        html="<p>Hi</p>", attachments=(Attachment("a.bin", "application/octet-stream", b"1"),)
    )
    message = sent(d)
    assert message.get_content_type() == "multipart/mixed"
    assert next(message.iter_parts()).get_content_type() == "multipart/alternative"


def test_the_message_id_given_at_enqueue_is_the_one_sent_every_time() -> None:
    message_id = new_message_id(DESK)
    first, second = (sent_id(compose(draft(), message_id, 7)) for _ in range(2))
    assert first == second == message_id


def test_the_date_given_at_enqueue_is_the_date_sent() -> None:
    when = datetime(2025, 11, 24, 9, 30, tzinfo=UTC)
    message = parsed(compose(draft(), MESSAGE_ID, 7, date=when))
    assert message["Date"].datetime == when


def test_new_message_ids_are_unique_and_in_the_senders_domain() -> None:
    ids = {new_message_id("Desk@Postroom.EXAMPLE") for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("<") and i.endswith("@postroom.example>") for i in ids)


def test_a_malformed_message_id_is_never_composed() -> None:
    with pytest.raises(InvalidInput):
        compose(draft(), "no-brackets@example.org", 7)


PUBLIC = "http://postroom.internal:8025"
BASE = "https://mail.example.com/desk"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (f"See {PUBLIC}/requests/42 now", f"See {BASE}/requests/42 now"),
        (f'<a href="{PUBLIC}/r/1?x=1#top">', f'<a href="{BASE}/r/1?x=1#top">'),
        (f"<a href='{PUBLIC}'>home</a>", f"<a href='{BASE}'>home</a>"),
        (f"Open {PUBLIC}/.", f"Open {BASE}/."),
        (f"Open {PUBLIC}.", f"Open {BASE}."),
        (f"({PUBLIC}/a), {PUBLIC}/b", f"({BASE}/a), {BASE}/b"),
        ("HTTP://Postroom.Internal:8025/r/1", f"{BASE}/r/1"),
    ],
)
def test_links_to_the_public_url_are_moved_onto_the_action_base(body: str, expected: str) -> None:
    assert rewrite_links(body, PUBLIC, BASE) == expected


@pytest.mark.parametrize(
    "body",
    [
        "http://postroom.internal:8025.evil.example/r/1",
        "http://postroom.internal:80251/r/1",
        "http://postroom.internal:8025@evil.example/r/1",
        "https://postroom.internal:8025/r/1",
        "xhttp://postroom.internal:8025/r/1",
        "http://other.example/r/1",
    ],
)
def test_links_that_only_look_like_the_public_url_are_kept(body: str) -> None:
    assert rewrite_links(body, PUBLIC, BASE) == body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("http://a.example/app/r/1", "https://b.example/r/1"),
        ("http://a.example/app", "https://b.example"),
        ("http://a.example/apple/r/1", "http://a.example/apple/r/1"),
        ("http://a.example/app.html", "http://a.example/app.html"),
        ("http://a.example/APP/r/1", "http://a.example/APP/r/1"),
    ],
)
def test_a_public_url_with_a_path_matches_only_whole_path_segments(
    body: str, expected: str
) -> None:
    assert rewrite_links(body, "http://a.example/app", "https://b.example") == expected


@pytest.mark.parametrize(
    ("public", "base"),
    [
        ("http://a.example/app/", "https://b.example/"),
        ("http://a.example/app", "https://b.example"),
        ("http://a.example/app/", "https://b.example"),
        ("http://a.example/app", "https://b.example/"),
    ],
)
def test_a_trailing_slash_on_either_url_makes_no_difference(public: str, base: str) -> None:
    body = "http://a.example/app/r/1 and http://a.example/app/"
    assert rewrite_links(body, public, base) == "https://b.example/r/1 and https://b.example/"


@pytest.mark.parametrize(
    "base", ['https://b.example/"><script>', "javascript:alert(1)", "https://b.example/?q=1"]
)
def test_a_base_url_that_could_break_the_markup_is_refused(base: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        rewrite_links(f"{PUBLIC}/x", PUBLIC, base)
    assert refused.value.field == "action_base_url"


def test_without_an_action_base_the_body_is_unchanged() -> None:
    assert rewrite_links(f"{PUBLIC}/x", PUBLIC, "") == f"{PUBLIC}/x"
