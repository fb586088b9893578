from __future__ import annotations

import pytest

from postroom.domain import validate
from postroom.domain.settings import LoginFormat, Protocol
from postroom.errors import InvalidInput, ReasonRequired


@pytest.mark.parametrize("port", [0, -1, 65536, 100000])
def test_a_port_outside_1_to_65535_is_refused_with_the_range(port: int) -> None:
    with pytest.raises(InvalidInput, match="1 to 65535"):
        validate.port(port)


def test_an_unknown_protocol_names_the_ones_that_exist() -> None:
    with pytest.raises(InvalidInput, match="use one of imap, pop3, smtp, graph, gmail"):
        validate.choice(Protocol, "imap4s", "protocol")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("ann.example.org", "needs one @"),
        ("ann@", "needs one @"),
        ("@example.org", "needs one @"),
        ("an n@example.org", "characters an address cannot hold"),
        ("ann@exa mple.org", "not a valid host name"),
        ("Ann <ann@example.org>", "characters an address cannot hold"),
        ("ann..b@example.org", "characters an address cannot hold"),
    ],
)
def test_a_malformed_address_is_refused_saying_what_is_wrong(value: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        validate.address(value)


def test_an_address_keeps_its_local_part_and_lowers_its_domain() -> None:
    assert validate.address(" Ann.Lee@Example.ORG ") == "Ann.Lee@example.org"


@pytest.mark.parametrize(
    "host", ["imap://mail.example.com", "mail.example.com:993", "-bad.example", ""]
)
def test_a_host_with_a_scheme_or_port_is_refused(host: str) -> None:
    with pytest.raises(InvalidInput):
        validate.hostname(host)


@pytest.mark.parametrize("host", ["mail.example.com", "127.0.0.1", "localhost", "::1", "[::1]"])
def test_host_names_and_ip_literals_are_accepted(host: str) -> None:
    assert validate.hostname(host)


@pytest.mark.parametrize("seconds", [0, -5, 601, 1e9])
def test_absurd_timeouts_are_refused_and_blank_means_none(seconds: float) -> None:
    with pytest.raises(InvalidInput, match="leave it blank for none"):
        validate.timeout(seconds, "connect timeout")
    assert validate.timeout(None, "connect timeout") is None


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_blank_reason_is_refused(reason: str | None) -> None:
    with pytest.raises(ReasonRequired, match="audit log"):
        validate.reason(reason)


@pytest.mark.parametrize(
    ("fmt", "username", "expected"),
    [
        (LoginFormat.ADDRESS, None, "ann@example.org"),
        (LoginFormat.LOCAL_PART, None, "ann"),
        (LoginFormat.CUSTOM, "EXAMPLE\\ann", "EXAMPLE\\ann"),
    ],
)
def test_login_formats_make_the_login_from_the_address(
    fmt: LoginFormat, username: str | None, expected: str
) -> None:
    assert fmt.login_for("ann@example.org", username) == expected


@pytest.mark.parametrize(
    "bad", ["Desk\r\nBcc: x@example.org", "Desk\nX", "Desk\tA", "A\x7fB", "A\u2028B"]
)
def test_a_display_name_must_be_one_line_without_control_characters(bad: str) -> None:
    with pytest.raises(InvalidInput, match="control characters") as refused:
        validate.display_name(bad)
    assert refused.value.field == "display_name"


def test_a_display_name_may_hold_any_printable_text() -> None:
    assert validate.display_name("  Müller & Söhne — Service  ") == "Müller & Söhne — Service"
