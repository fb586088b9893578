"""Write the parser's corpus of awkward emails into this folder: `python tests/data/make_corpus.py`.

The messages are spelled out byte by byte rather than built with the email package, because the
point is to reproduce what broken senders really send (raw 8-bit headers, lying charsets, missing
boundaries), which a well-behaved generator refuses to produce. `tests/unit/test_parse.py` checks
that the committed files still equal what this script writes. Large cases (a 30 MB attachment, a
100 KB header) are made in memory by the tests instead of being committed.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def crlf(text: str, encoding: str = "utf-8") -> bytes:
    """Lines as IMAP delivers them, CRLF-terminated."""
    return text.replace("\n", "\r\n").encode(encoding)


def b64(data: bytes) -> str:
    """Base64 in 76-character lines, as MIME requires."""
    encoded = base64.b64encode(data).decode("ascii")
    return "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def pseudo_random(seed: str, size: int) -> bytes:
    """Deterministic bytes that look random, so the corpus is the same on every run."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


PDF = b"%PDF-1.4\n" + pseudo_random("pdf", 300) + b"\n%%EOF\n"
TNEF = b"\x78\x9f\x3e\x22" + b"\x01\x00" + pseudo_random("tnef", 250)  # TNEF signature first


def plain_utf8() -> bytes:
    # LF line ends, as a Maildir file has them: both endings must parse the same.
    return """\
Return-Path: <anna.mueller@example.org>
Received: from mx.example.org (mx.example.org [192.0.2.10])
\tby mail.example.test with ESMTPS id 4F2A1
\tfor <desk@example.test>; Mon, 24 Nov 2025 09:30:01 +0100
From: =?utf-8?q?Anna_M=C3=BCller?= <Anna.Mueller@Example.ORG>
To: Help Desk <desk@example.test>, "Doe, John" <john@EXAMPLE.test>
Cc: boss@Example.Test
Subject: =?utf-8?b?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=
Date: Mon, 24 Nov 2025 09:30:00 +0100
Message-ID: <plain-1@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Hallo,

die Heizung im 3. Stock ist kalt. Grüße — Anna ☃
""".encode()


def broken_no_closing_boundary() -> bytes:
    return crlf(f"""\
From: Ben <ben@example.org>
To: desk@example.test
Subject: Invoice attached
Date: Tue, 25 Nov 2025 10:00:00 +0000
Message-ID: <no-close@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XYZ"

--XYZ
Content-Type: text/plain; charset=utf-8

Please find the invoice attached.

--XYZ
Content-Type: application/pdf; name="invoice.pdf"
Content-Disposition: attachment; filename="invoice.pdf"
Content-Transfer-Encoding: base64

{b64(PDF)}
""")


def broken_preamble_garbage() -> bytes:
    head = crlf("""\
From: Cleo <cleo@example.org>
To: desk@example.test
Subject: Garbage before the first part
Date: Tue, 25 Nov 2025 11:00:00 +0000
Message-ID: <preamble@example.org>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

""")
    garbage = (
        b"\x00\xff\xfe junk \x80\x81 --b1x not a boundary\r\nContent-Type: bogus\r\n\x1b[0m\r\n"
    )
    parts = crlf("""\
--b1
Content-Type: text/plain; charset=utf-8

The real text.
--b1
Content-Type: text/html; charset=utf-8

<p>The real <b>text</b>.</p>
--b1--
""")
    return head + garbage + parts


def broken_headerless_part() -> bytes:
    return crlf(f"""\
From: Dan <dan@example.org>
To: desk@example.test
Subject: A part without headers
Date: Tue, 25 Nov 2025 12:00:00 +0000
Message-ID: <headerless@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="sep"

--sep

This part has no headers at all.
--sep
Content-Type: application/pdf
Content-Disposition: attachment; filename="scan.pdf"
Content-Transfer-Encoding: base64

{b64(PDF)}
--sep--
""")


def header_8bit_utf8() -> bytes:
    return crlf("""\
From: Jürgen Groß <jg@Example.DE>
To: desk@example.test
Subject: Rückfrage zur Rechnung über 42 €
Date: Wed, 26 Nov 2025 08:00:00 +0100
Message-ID: <8bit-utf8@example.de>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Guten Morgen.
""")


def header_8bit_latin1() -> bytes:
    return crlf(
        """\
From: François Lefèvre <fl@example.fr>
To: desk@example.test
Subject: Réunion à côté du café
Date: Wed, 26 Nov 2025 09:00:00 +0100
Message-ID: <8bit-latin1@example.fr>
MIME-Version: 1.0
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: 8bit

Bonjour, à demain.
""",
        "latin-1",
    )


def unknown_charset() -> bytes:
    return crlf("""\
From: Eve <eve@example.org>
To: desk@example.test
Subject: =?unknown-8bit?q?Caf=E9_cr=E8me?=
Date: Wed, 26 Nov 2025 10:00:00 +0000
Message-ID: <unknown-charset@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset="x-unknown"
Content-Transfer-Encoding: 8bit

Ça marche très bien, merci !
""")


def mislabelled_charset() -> bytes:
    return crlf(
        """\
From: Fred <fred@example.org>
To: desk@example.test
Subject: =?us-ascii?q?Caf=E9_printer?=
Date: Wed, 26 Nov 2025 11:00:00 +0000
Message-ID: <mislabelled@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 8bit

He said “it’s fixed” — the café printer works again.
""",
        "cp1252",
    )


def no_message_id() -> bytes:
    return crlf("""\
From: Gus <gus@example.org>
To: desk@example.test
Subject: No Message-ID here
Date: Thu, 27 Nov 2025 08:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Some old mailers never add one.
""")


def shared_message_id(subject: str, body: str) -> bytes:
    return crlf(f"""\
From: Hal <hal@example.org>
To: desk@example.test
Subject: {subject}
Date: Thu, 27 Nov 2025 09:00:00 +0000
Message-ID: <same@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

{body}
""")


def nested_rfc822() -> bytes:
    return crlf("""\
From: Ivy <ivy@example.org>
To: desk@example.test
Subject: Fwd: Quarterly numbers
Date: Thu, 27 Nov 2025 10:00:00 +0000
Message-ID: <forward@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain; charset=utf-8

See the forwarded message.
--outer
Content-Type: message/rfc822

From: Jon <jon@example.org>
To: ivy@example.org
Subject: =?utf-8?q?Quarterly_numbers_=E2=80=93_Q3?=
Date: Wed, 26 Nov 2025 16:00:00 +0000
Message-ID: <inner@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8

Inner text, not the outer message's text.
--inner
Content-Type: text/csv; name="numbers.csv"
Content-Disposition: attachment; filename="numbers.csv"

quarter,revenue
Q3,42
--inner--

--outer--
""")


def tnef_winmail() -> bytes:
    return crlf(f"""\
From: Kim <kim@example.org>
To: desk@example.test
Subject: Sent from Outlook with rich text
Date: Thu, 27 Nov 2025 11:00:00 +0000
Message-ID: <tnef@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="tnef"

--tnef
Content-Type: text/plain; charset=us-ascii

The attachment is in winmail.dat.
--tnef
Content-Type: application/ms-tnef; name="winmail.dat"
Content-Disposition: attachment; filename="winmail.dat"
Content-Transfer-Encoding: base64

{b64(TNEF)}
--tnef--
""")


def html_only() -> bytes:
    return crlf("""\
From: Lea <lea@example.org>
To: desk@example.test
Subject: HTML only
Date: Fri, 28 Nov 2025 08:00:00 +0000
Message-ID: <html-only@example.org>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head><style>p { color: red }</style></head><body>
<p>The <b>caf&eacute;</b> printer is broken.</p>
<ul><li>Paper jam</li><li>Toner empty</li></ul>
</body></html>
""")


def auto_reply() -> bytes:
    return crlf("""\
From: Max <max@example.org>
To: desk@example.test
Subject: Automatic reply: Printer on fire
Date: Fri, 28 Nov 2025 09:00:00 +0000
Message-ID: <auto@example.org>
In-Reply-To: <desk-ack-7@example.test>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

I am out of the office until Monday.
""")


def dsn_bounce() -> bytes:
    return crlf("""\
Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.example.test>
To: desk@example.test
Subject: Undelivered Mail Returned to Sender
Date: Fri, 28 Nov 2025 10:00:00 +0000
Message-ID: <bounce-1@mx.example.test>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="dsn"

--dsn
Content-Type: text/plain; charset=us-ascii
Content-Description: Notification

Your message could not be delivered to nobody@example.net.
--dsn
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.test
Arrival-Date: Fri, 28 Nov 2025 09:59:58 +0000

Final-Recipient: rfc822; nobody@example.net
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown
--dsn
Content-Type: text/rfc822-headers

From: desk@example.test
To: nobody@example.net
Subject: Your request #42
Message-ID: <original-42@example.test>
--dsn--
""")


def reply() -> bytes:
    return crlf("""\
From: Ann <ann@example.org>
To: desk@example.test
Subject: Re: Printer on fire
Date: Fri, 28 Nov 2025 11:00:00 +0000
Message-ID: <reply-2@example.org>
In-Reply-To: <ack-1@example.test>
References: <root-0@example.org>
 <ack-1@example.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

It is out now.

> We are on it.
""")


def ticket_subject() -> bytes:
    return crlf("""\
From: Bob <bob@example.org>
To: desk@example.test
Subject: Re: [#123] Printer
Date: Fri, 28 Nov 2025 12:00:00 +0000
Message-ID: <ticket@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Still broken.
""")


def not_an_email() -> bytes:
    # A PNG signature, then noise: no line in it looks like "Name: value".
    noise = pseudo_random("not-an-email", 2000).replace(b":", b".").replace(b"\n", b" ")
    return b"\x89PNG\r\n\x1a\n" + noise


CORPUS = {
    "plain_utf8.eml": plain_utf8,
    "broken_no_closing_boundary.eml": broken_no_closing_boundary,
    "broken_preamble_garbage.eml": broken_preamble_garbage,
    "broken_headerless_part.eml": broken_headerless_part,
    "header_8bit_utf8.eml": header_8bit_utf8,
    "header_8bit_latin1.eml": header_8bit_latin1,
    "unknown_charset.eml": unknown_charset,
    "mislabelled_charset.eml": mislabelled_charset,
    "no_message_id.eml": no_message_id,
    "shared_message_id_a.eml": lambda: shared_message_id("First of two", "One body."),
    "shared_message_id_b.eml": lambda: shared_message_id("Second of two", "Another body."),
    "nested_rfc822.eml": nested_rfc822,
    "tnef_winmail.eml": tnef_winmail,
    "html_only.eml": html_only,
    "auto_reply.eml": auto_reply,
    "dsn_bounce.eml": dsn_bounce,
    "reply.eml": reply,
    "ticket_subject.eml": ticket_subject,
    "not_an_email.eml": not_an_email,
}


def build() -> dict[str, bytes]:
    """Every corpus file's name and bytes."""
    return {name: make() for name, make in CORPUS.items()}


def main(folder: Path = HERE) -> None:
    for name, data in build().items():
        (folder / name).write_bytes(data)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
