"""The defensive parser: what comes out of real-world broken mail, and that nothing raises.

The corpus lives in tests/data (written by tests/data/make_corpus.py); the two big cases, a 30 MB
attachment and a 100 KB header, are made in memory here so they are never committed.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import getaddresses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postroom.inbound.parse import (
    MAX_HEADER_CHARS,
    is_unparseable,
    parse_body,
    parse_headers,
)
from tests.data import make_corpus

DATA = Path(__file__).resolve().parents[1] / "data"


def eml(name: str) -> bytes:
    return (DATA / name).read_bytes()


def big_attachment_message(size: int) -> bytes:
    """A message with one base64 attachment of `size` bytes, built in memory."""
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return (
        b"From: Big <big@example.org>\r\n"
        b"Subject: Scans\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="big"\r\n'
        b"\r\n"
        b"--big\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\n"
        b"All the scans.\r\n"
        b"--big\r\n"
        b"Content-Type: application/zip\r\n"
        b'Content-Disposition: attachment; filename="scans.zip"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n" + encoded + b"--big--\r\n"
    )


def long_header_message(size: int) -> bytes:
    """A message with one header value of `size` characters, folded as a sender would."""
    words = b"\r\n ".join([b"x" * 77] * (size // 78 + 1))
    return (
        b"From: Long <long@example.org>\r\n"
        b"X-Long: " + words[:size] + b"\r\n"
        b"Subject: After the long one\r\n"
        b"\r\n"
        b"Body.\r\n"
    )


# The corpus


def test_the_committed_corpus_is_what_make_corpus_writes() -> None:
    expected = make_corpus.build()
    on_disk = {path.name: path.read_bytes() for path in DATA.glob("*.eml")}
    assert on_disk == expected


# parse_headers: the values routing needs


def test_an_encoded_word_subject_is_decoded() -> None:
    assert parse_headers(eml("plain_utf8.eml")).subject == "Grüße aus München"


def test_the_sender_keeps_its_local_part_and_lower_cases_its_domain() -> None:
    headers = parse_headers(eml("plain_utf8.eml"))
    assert (headers.sender, headers.sender_name) == ("Anna.Mueller@example.org", "Anna Müller")


def test_to_and_cc_are_addr_specs_even_with_a_comma_in_a_quoted_name() -> None:
    headers = parse_headers(eml("plain_utf8.eml"))
    assert headers.to == ("desk@example.test", "john@example.test")
    assert headers.cc == ("boss@example.test",)


def test_the_date_keeps_its_time_zone() -> None:
    expected = datetime(2025, 11, 24, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    assert parse_headers(eml("plain_utf8.eml")).date == expected


def test_a_date_with_unknown_zone_is_taken_as_utc() -> None:
    headers = parse_headers(b"Date: Mon, 24 Nov 2025 09:30:00 -0000\n\n")
    assert headers.date == datetime(2025, 11, 24, 9, 30, tzinfo=UTC)


def test_an_unreadable_date_is_none_with_a_defect() -> None:
    headers = parse_headers(b"From: a@example.org\nDate: next Tuesday-ish\n\n")
    assert headers.date is None
    assert any(d.startswith("date:") for d in headers.defects)


def test_size_and_sha256_describe_the_raw_bytes() -> None:
    raw = eml("plain_utf8.eml")
    headers = parse_headers(raw)
    assert (headers.size, headers.sha256) == (len(raw), hashlib.sha256(raw).hexdigest())


def test_raw_headers_hold_every_header_unfolded_under_its_lower_case_name() -> None:
    headers = parse_headers(eml("plain_utf8.eml"))
    assert headers.all("Received") == (
        "from mx.example.org (mx.example.org [192.0.2.10])\tby mail.example.test with ESMTPS"
        " id 4F2A1\tfor <desk@example.test>; Mon, 24 Nov 2025 09:30:01 +0100",
    )


def test_raw_headers_values_are_decoded() -> None:
    headers = parse_headers(eml("plain_utf8.eml"))
    assert headers.header("from") == "Anna Müller <Anna.Mueller@Example.ORG>"


def test_a_repeated_header_keeps_all_its_values_in_order() -> None:
    headers = parse_headers(b"X-Tag: one\nX-Tag: two\n\n")
    assert headers.all("x-tag") == ("one", "two")


def test_raw_utf8_bytes_in_headers_are_read_as_utf8_without_a_defect() -> None:
    headers = parse_headers(eml("header_8bit_utf8.eml"))
    assert headers.subject == "Rückfrage zur Rechnung über 42 €"
    assert headers.sender_name == "Jürgen Groß"
    assert headers.defects == ()


def test_raw_latin1_bytes_in_headers_are_recovered() -> None:
    headers = parse_headers(eml("header_8bit_latin1.eml"))
    assert headers.subject == "Réunion à côté du café"
    assert headers.sender_name == "François Lefèvre"


def test_raw_latin1_bytes_in_headers_are_reported_as_a_defect() -> None:
    defects = parse_headers(eml("header_8bit_latin1.eml")).defects
    assert "subject: 8-bit bytes are not UTF-8; read as cp1252" in defects


def test_an_encoded_word_with_an_unknown_charset_is_recovered() -> None:
    headers = parse_headers(eml("unknown_charset.eml"))
    assert headers.subject == "Café crème"
    assert any("unknown-8bit is unknown" in d for d in headers.defects)


def test_an_encoded_word_mislabelled_us_ascii_gives_the_real_letters() -> None:
    headers = parse_headers(eml("mislabelled_charset.eml"))
    assert headers.subject == "Café printer"


def test_a_broken_base64_encoded_word_is_kept_as_written_with_a_defect() -> None:
    headers = parse_headers(b"Subject: Hello =?utf-8?b?A?= there\n\n")
    assert headers.subject == "Hello =?utf-8?b?A?= there"
    assert any("encoded word unreadable" in d for d in headers.defects)


def test_a_missing_message_id_is_replaced_by_one_from_the_sha256() -> None:
    raw = eml("no_message_id.eml")
    headers = parse_headers(raw)
    assert headers.message_id == f"<{hashlib.sha256(raw).hexdigest()}@postroom.invalid>"
    assert headers.message_id_present is False


def test_the_synthetic_message_id_is_stable_across_parses() -> None:
    raw = eml("no_message_id.eml")
    assert parse_headers(raw).message_id == parse_headers(bytes(raw)).message_id


def test_an_empty_message_id_counts_as_missing() -> None:
    headers = parse_headers(b"From: a@example.org\nMessage-ID: <>\n\n")
    assert headers.message_id_present is False
    assert headers.message_id.endswith("@postroom.invalid>")


def test_two_emails_sharing_a_message_id_keep_it_and_differ_by_sha256() -> None:
    first = parse_headers(eml("shared_message_id_a.eml"))
    second = parse_headers(eml("shared_message_id_b.eml"))
    assert first.message_id == second.message_id == "<same@example.org>"
    assert first.sha256 != second.sha256


def test_the_message_id_loses_its_folding_and_whitespace() -> None:
    headers = parse_headers(b"Message-ID:\r\n <abc.123@\r\n example.org> (comment)\r\n\r\n")
    assert headers.message_id == "<abc.123@example.org>"


def test_a_message_id_without_brackets_gets_them() -> None:
    headers = parse_headers(b"Message-ID: abc.123@example.org\n\n")
    assert (headers.message_id, headers.message_id_present) == ("<abc.123@example.org>", True)


def test_in_reply_to_and_references_list_their_ids_in_order() -> None:
    headers = parse_headers(eml("reply.eml"))
    assert headers.in_reply_to == ("<ack-1@example.test>",)
    assert headers.references == ("<root-0@example.org>", "<ack-1@example.test>")


def test_references_without_brackets_are_tolerated() -> None:
    headers = parse_headers(b"In-Reply-To: ack-1@example.test\nReferences: r@x.org a@y.org\n\n")
    assert headers.in_reply_to == ("<ack-1@example.test>",)
    assert headers.references == ("<r@x.org>", "<a@y.org>")


def test_a_subject_with_a_ticket_token_is_kept_verbatim() -> None:
    assert parse_headers(eml("ticket_subject.eml")).subject == "Re: [#123] Printer"


def test_auto_submitted_is_readable_for_the_loop_rules() -> None:
    headers = parse_headers(eml("auto_reply.eml"))
    assert headers.header("Auto-Submitted") == "auto-replied"


def test_a_dsn_has_its_content_type_and_report_type() -> None:
    headers = parse_headers(eml("dsn_bounce.eml"))
    assert (headers.content_type, headers.report_type) == ("multipart/report", "delivery-status")


def test_a_dsn_comes_from_mailer_daemon_with_a_null_return_path() -> None:
    headers = parse_headers(eml("dsn_bounce.eml"))
    assert headers.sender == "MAILER-DAEMON@mx.example.test"
    assert headers.header("Return-Path") == "<>"


def test_a_missing_content_type_is_text_plain() -> None:
    assert parse_headers(b"From: a@example.org\n\n").content_type == "text/plain"


def test_an_invalid_content_type_is_text_plain_with_a_defect() -> None:
    headers = parse_headers(b"Content-Type: garbage\n\n")
    assert headers.content_type == "text/plain"
    assert any(d.startswith("content-type:") for d in headers.defects)


@pytest.mark.parametrize(
    ("raw", "sender"),
    [
        (
            b"Sender: Desk <desk@Example.ORG>\nReturn-Path: <bounce@example.org>\n\n",
            "desk@example.org",
        ),
        (b"Return-Path: <bounce@Example.ORG>\n\n", "bounce@example.org"),
    ],
    ids=["sender", "return-path"],
)
def test_without_from_the_sender_comes_from_sender_then_return_path(
    raw: bytes, sender: str
) -> None:
    assert parse_headers(raw).sender == sender


@pytest.mark.parametrize(
    "field",
    [
        "a@Example.org",
        'Help Desk <desk@example.test>, "Doe, John" <john@EXAMPLE.test>',
        '"Q \\" x" <q@x.example>',
        "J.  Doe <j@d.example>, <k@d.example>",
        "a (comment) <b@c.example>",
        "Group: a@b.example, c@d.example;",
        "undisclosed-recipients:;",
        "MAILER-DAEMON",
    ],
)
def test_addresses_read_as_the_stdlib_getaddresses_reads_them(field: str) -> None:
    expected = []
    for _, addr in getaddresses([field]):
        local, at, domain = addr.rpartition("@")
        if addr:
            expected.append(f"{local}@{domain.lower()}" if at else addr)
    assert list(parse_headers(f"To: {field}\n\n".encode()).to) == expected


def test_a_100kb_header_is_truncated_with_a_defect() -> None:
    headers = parse_headers(long_header_message(100_000))
    assert len(headers.header("X-Long")) == MAX_HEADER_CHARS
    assert any(d.startswith("x-long: value of") for d in headers.defects)


def test_headers_after_a_100kb_header_are_still_read() -> None:
    assert parse_headers(long_header_message(100_000)).subject == "After the long one"


# parse_headers: who the requester is (a valid address or none)


def test_a_garbage_from_gives_way_to_a_second_valid_from_header() -> None:
    headers = parse_headers(
        b"From: [??????]\r\nSubject: Order\r\nFrom: Real Person <Real@Example.ORG>\r\n\r\n"
    )
    assert (headers.sender, headers.sender_name) == ("Real@example.org", "Real Person")
    assert headers.all("from") == ("[??????]", "Real Person <Real@Example.ORG>")  # as written
    assert "from: no valid address in '[??????]'" in headers.defects


@pytest.mark.parametrize(
    ("fallbacks", "sender"),
    [
        (
            "Sender: desk@example.org\nReply-To: r@example.org\nReturn-Path: <b@x.org>\n",
            "desk@example.org",
        ),
        ("Reply-To: Ann <r@example.org>\nReturn-Path: <b@x.org>\n", "r@example.org"),
        ("Return-Path: <b@x.org>\n", "b@x.org"),
        ("Return-Path: <>\n", ""),
    ],
    ids=["sender", "reply-to", "return-path", "none"],
)
def test_a_from_without_an_address_falls_back_to_sender_reply_to_return_path(
    fallbacks: str, sender: str
) -> None:
    headers = parse_headers(f"From: [??????]\n{fallbacks}Subject: x\n\n".encode())
    assert headers.sender == sender


def test_an_encoded_display_name_with_a_comma_is_one_name_not_two_addresses() -> None:
    headers = parse_headers(
        b"From: =?iso-8859-1?Q?B=FCrling,?= Hans <hans@example.org>\n"
        b"To: =?iso-8859-1?Q?M=FCller,?= <m@example.org>, desk@example.test\n\n"
    )
    assert (headers.sender, headers.sender_name) == ("hans@example.org", "Bürling, Hans")
    assert headers.to == ("m@example.org", "desk@example.test")
    assert headers.header("from") == "Bürling, Hans <hans@example.org>"


def test_an_encoded_word_inside_quotes_is_still_decoded() -> None:
    headers = parse_headers(b'From: "=?utf-8?q?Doe=2C_J=C3=BCrgen?=" <jd@example.org>\n\n')
    assert (headers.sender, headers.sender_name) == ("jd@example.org", "Doe, Jürgen")


@pytest.mark.parametrize(
    ("field", "sender", "name"),
    [
        ("Test test@example.com", "test@example.com", "Test"),
        ("tim@example.com concierge@example.com", "tim@example.com", ""),
    ],
)
def test_an_address_is_never_invented_by_removing_spaces(
    field: str, sender: str, name: str
) -> None:
    headers = parse_headers(f"From: {field}\n\n".encode())
    assert (headers.sender, headers.sender_name) == (sender, name)


def test_words_without_an_address_are_no_requester_even_squeezed() -> None:
    headers = parse_headers(b"From: John Smith\nTo: help desk\nSubject: x\n\n")
    assert (headers.sender, headers.to) == ("", ())


def test_an_address_without_a_domain_is_no_requester() -> None:
    headers = parse_headers(b"From: MAILER-DAEMON\nReturn-Path: <>\n\n")
    assert headers.sender == ""
    assert headers.header("from") == "MAILER-DAEMON"


FROM_PIECES = st.sampled_from(
    [
        "ann@example.org",
        "Test",
        " ",
        ",",
        "<",
        ">",
        '"',
        "@",
        ";",
        ":",
        "(c)",
        "\t",
        "[??????]",
        "=?iso-8859-1?Q?B=FCrling,?=",
        "=?utf-8?b?QW5u?=",
        "x.y@z",
        "MAILER-DAEMON",
        "\\",
    ]
)
VALID = re.compile(
    r'(?:[^\s<>()\[\]",;:\\@]+|"(?:[^"\\]|\\.)*")@(?:[\w-]+(?:\.[\w-]+)*|\[[\d.]+\])'
)


@settings(max_examples=150, deadline=None)
@given(pieces=st.lists(FROM_PIECES, max_size=8), noise=st.text(max_size=12))
def test_the_requester_is_always_a_valid_address_or_none(pieces: list[str], noise: str) -> None:
    value = "".join(pieces) + noise.replace("\r", "").replace("\n", "")
    headers = parse_headers(f"From: {value}\nSubject: x\n\n".encode("utf-8", "surrogatepass"))
    assert headers.sender == "" or VALID.fullmatch(headers.sender), headers.sender


# parse_headers: raw 8-bit and escape-coded header text


JAPANESE = "ます株式会社山田商事より新製品"  # charset-normalizer alone reads it as UTF-16-BE


@pytest.mark.parametrize(
    "declaration",
    [
        b"Content-Type: text/plain; charset=euc-jp\n",
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain;\n'
        b' charset="EUC-JP"\n',
        b"To: =?euc-jp?b?u7PFxA==?= <yamada@example.jp>\n",
    ],
    ids=["content-type", "mime-part", "encoded-word"],
)
def test_an_undeclared_8bit_japanese_subject_is_read_in_the_charset_declared_elsewhere(
    declaration: bytes,
) -> None:
    raw = b"From: a@example.jp\nSubject: " + JAPANESE.encode("euc_jp") + b"\n" + declaration
    headers = parse_headers(raw + b"\nbody\n")
    assert headers.subject == JAPANESE
    assert "subject: 8-bit bytes are not UTF-8; read as euc_jp" in headers.defects


@pytest.mark.parametrize(
    ("subject", "charset"),
    [(JAPANESE, "euc_jp"), ("テスト", "shift_jis"), ("についてご注文あ", "shift_jis")],
)
def test_an_undeclared_8bit_japanese_subject_is_detected_never_as_utf16(
    subject: str, charset: str
) -> None:
    headers = parse_headers(b"Subject: " + subject.encode(charset) + b"\n\n")
    assert headers.subject == subject
    assert not any("utf_16" in d or "utf_32" in d for d in headers.defects)


def test_8bit_bytes_that_no_japanese_charset_reads_are_never_utf16() -> None:
    data = "株式会社山田商事".encode("euc_jp")  # kanji only: Chinese or Japanese, no kana
    defects = parse_headers(b"Subject: " + data + b"\n\n").defects
    assert any(d.startswith("subject: 8-bit bytes are not UTF-8") for d in defects)
    assert not any("utf_16" in d or "utf_32" in d for d in defects)


def test_undeclared_iso_2022_jp_escapes_are_read_as_iso_2022_jp() -> None:
    headers = parse_headers(
        b"From: a@example.jp\nSubject: " + JAPANESE.encode("iso2022_jp") + b"\n\n"
    )
    assert headers.subject == JAPANESE
    assert "subject: undeclared ISO-2022-JP escapes; read as iso-2022-jp" in headers.defects


# parse_headers: lines before the headers


HEADERS = b"From: Ann <ann@example.org>\r\nSubject: Printer\r\nMessage-ID: <j@example.org>\r\n"


@pytest.mark.parametrize(
    "junk",
    [
        b"From ann@example.org Mon May  2 16:07:05 2005\r\n",
        b"garbage line\r\n",
        b"From ann@example.org Mon May  2 16:07:05 2005\r\n>From a stray second line\r\n",
        b"Dear desk, \r\n  folded junk\r\n",
    ],
    ids=["mbox-from-line", "stray-line", "mbox-line-and-stray-line", "folded-stray-line"],
)
def test_junk_before_the_headers_is_skipped_and_the_raw_bytes_kept(junk: bytes) -> None:
    raw = junk + HEADERS + b"\r\nThe printer is on fire.\r\n"
    headers = parse_headers(raw)
    assert not is_unparseable(headers)
    assert (headers.sender, headers.subject, headers.message_id) == (
        "ann@example.org",
        "Printer",
        "<j@example.org>",
    )
    assert (headers.size, headers.sha256) == (len(raw), hashlib.sha256(raw).hexdigest())
    assert parse_body(raw).text == "The printer is on fire.\n"


def test_a_stray_line_among_the_headers_no_longer_hides_the_rest() -> None:
    raw = b"Received: by mx\nquite Delivered-To: x@example.org\n" + HEADERS + b"\nBody\n"
    headers = parse_headers(raw)
    assert (headers.sender, headers.subject) == ("ann@example.org", "Printer")
    assert (
        "header section: 1 line(s) before headers skipped: 'quite Delivered-To: x@example.org'"
        in (headers.defects)
    )


@pytest.mark.parametrize(
    "raw",
    [b"Hello there\nNote: call me\n\nbye\n", b"Dear desk,\nplease note: nothing\n"],
    ids=["header-like-line", "no-header-line"],
)
def test_text_that_only_looks_like_a_header_stays_unparseable(raw: bytes) -> None:
    assert is_unparseable(parse_headers(raw))


# parse_headers: input that is not an email


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\x01\x02\xff\xfe",
        make_corpus.pseudo_random("garbage", 4096),
        b"\n\nonly a body\n",
        eml("not_an_email.eml"),
    ],
    ids=["empty", "binary", "random", "no-headers", "png"],
)
def test_input_that_is_not_an_email_is_unparseable(raw: bytes) -> None:
    headers = parse_headers(raw)
    assert is_unparseable(headers)
    assert "no headers found" in headers.defects


def test_input_that_is_not_an_email_still_gets_a_synthetic_id() -> None:
    raw = eml("not_an_email.eml")
    assert parse_headers(raw).message_id == f"<{hashlib.sha256(raw).hexdigest()}@postroom.invalid>"


def test_an_email_is_not_unparseable() -> None:
    assert not is_unparseable(parse_headers(eml("plain_utf8.eml")))


# parse_body


def test_the_text_is_the_plain_part_decoded() -> None:
    body = parse_body(eml("plain_utf8.eml"))
    assert body.text == "Hallo,\n\ndie Heizung im 3. Stock ist kalt. Grüße — Anna ☃\n"


def test_crlf_line_ends_become_lf() -> None:
    assert parse_body(eml("reply.eml")).text == "It is out now.\n\n> We are on it.\n"


def test_a_body_mislabelled_us_ascii_gives_the_real_smart_quotes_and_accent() -> None:
    body = parse_body(eml("mislabelled_charset.eml"))
    assert body.text == "He said “it’s fixed” — the café printer works again.\n"
    assert "text/plain: charset us-ascii does not fit the bytes; read as cp1252" in body.defects


def test_a_body_in_an_unknown_charset_is_recovered() -> None:
    body = parse_body(eml("unknown_charset.eml"))
    assert body.text == "Ça marche très bien, merci !\n"
    assert any("x-unknown is unknown" in d for d in body.defects)


def test_utf8_bytes_labelled_latin1_are_read_as_utf8() -> None:
    raw = "Content-Type: text/plain; charset=iso-8859-1\n\nGrüße\n".encode()
    assert parse_body(raw).text == "Grüße\n"


def test_a_long_cyrillic_body_mislabelled_us_ascii_is_detected() -> None:
    text = "Привет, принтер на третьем этаже снова не работает. Пожалуйста, помогите. " * 3
    raw = b"Content-Type: text/plain; charset=us-ascii\n\n" + text.encode("cp1251")
    assert parse_body(raw).text == text


def test_a_missing_closing_boundary_still_gives_the_text_and_the_attachment() -> None:
    body = parse_body(eml("broken_no_closing_boundary.eml"))
    assert body.text == "Please find the invoice attached.\n"
    assert [(a.filename, a.size) for a in body.attachments] == [
        ("invoice.pdf", len(make_corpus.PDF))
    ]


def test_garbage_in_the_preamble_is_ignored() -> None:
    body = parse_body(eml("broken_preamble_garbage.eml"))
    assert (body.text, body.html) == ("The real text.", "<p>The real <b>text</b>.</p>")


def test_a_part_without_headers_is_read_as_plain_text() -> None:
    assert parse_body(eml("broken_headerless_part.eml")).text == "This part has no headers at all."


def test_a_multipart_without_its_boundary_shows_the_body_as_written() -> None:
    body = parse_body(b"Content-Type: multipart/mixed; boundary=zz\n\nhello there\n")
    assert body.text == "hello there\n"
    assert "no readable part; showing the body as written" in body.defects


def test_a_nested_message_is_one_attachment_named_from_its_subject() -> None:
    body = parse_body(eml("nested_rfc822.eml"))
    assert [(a.filename, a.content_type) for a in body.attachments] == [
        ("Quarterly numbers – Q3.eml", "message/rfc822")
    ]


def test_a_nested_message_does_not_supply_the_text() -> None:
    assert parse_body(eml("nested_rfc822.eml")).text == "See the forwarded message."


def test_winmail_dat_is_kept_as_a_tnef_attachment() -> None:
    body = parse_body(eml("tnef_winmail.eml"))
    assert [(a.filename, a.content_type, a.size) for a in body.attachments] == [
        ("winmail.dat", "application/ms-tnef", len(make_corpus.TNEF))
    ]


def test_html_only_mail_gets_its_text_from_the_html() -> None:
    body = parse_body(eml("html_only.eml"))
    assert body.text == "The café printer is broken.\n\n  * Paper jam\n  * Toner empty"


def test_html_only_mail_keeps_its_html() -> None:
    html = parse_body(eml("html_only.eml")).html
    assert html is not None
    assert html.startswith("<html><head><style>")


def test_a_dsn_body_is_its_human_readable_part_without_attachments() -> None:
    body = parse_body(eml("dsn_bounce.eml"))
    assert body.text == "Your message could not be delivered to nobody@example.net."
    assert body.attachments == ()


def test_encoded_attachment_filenames_are_decoded() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=zz\n\n--zz\n"
        b'Content-Type: application/pdf; name="=?utf-8?q?Rechnung_M=C3=A4rz.pdf?="\n\nx\n'
        b"--zz\nContent-Disposition: attachment; filename*=utf-8''%E2%82%AC%20rates.pdf\n\nyy\n"
        b"--zz--\n"
    )
    names = [a.filename for a in parse_body(raw).attachments]
    assert names == ["Rechnung März.pdf", "€ rates.pdf"]


def test_a_30mb_attachment_has_its_decoded_size() -> None:
    size = 30 * 1024 * 1024
    body = parse_body(big_attachment_message(size))
    assert [(a.filename, a.size) for a in body.attachments] == [("scans.zip", size)]


def test_a_header_policy_default_cannot_read_falls_back_to_compat32() -> None:
    raw = (
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhello\n"
        b'--b\nContent-Type: application/pdf; name="a.pdf"\nContent-Disposition: attachment; a*\n'
        b"\n%PDF\n--b--\n"
    )
    body = parse_body(raw)
    assert (body.text, [a.filename for a in body.attachments]) == ("hello", ["a.pdf"])
    assert body.defects[0].startswith("full parse failed (IndexError")


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00\x01\x02\xff", make_corpus.pseudo_random("garbage", 4096), eml("not_an_email.eml")],
    ids=["empty", "binary", "random", "png"],
)
def test_a_body_that_is_not_an_email_does_not_raise(raw: bytes) -> None:
    assert parse_body(raw).attachments == ()
