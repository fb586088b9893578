"""Send rates as people write them, and which provider answers mean "slow down"."""

from __future__ import annotations

import pytest

from postroom.errors import InvalidInput
from postroom.outbound.limits import Rate, defaults_for, is_throttle, parse_rate


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("30/min", Rate(30, 60)),
        ("2000/day", Rate(2000, 86_400)),
        ("5 / 10s", Rate(5, 10)),
        ("100/hours", Rate(100, 3_600)),
        ("none", None),
        ("", None),
    ],
)
def test_rates_are_read_as_written(text: str, rate: Rate | None) -> None:
    assert parse_rate(text) == rate
    if rate is not None:
        assert parse_rate(str(rate)) == rate


@pytest.mark.parametrize("text", ["fast", "0/min", "30/fortnight", "-1/min"])
def test_a_rate_that_is_not_one_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(InvalidInput, match="30/min"):
        parse_rate(text)


@pytest.mark.parametrize(
    ("code", "text", "throttle"),
    [
        (421, "4.7.0 Temporary rate limit", True),
        (451, "4.7.28 Gmail has detected an unusual rate of unsolicited mail", True),
        (452, "4.5.3 Too many recipients", True),
        (554, "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException", True),
        (550, "5.4.5 Daily user sending quota exceeded.", True),
        (429, "Too Many Requests", True),
        (421, "4.3.2 Too busy", False),
        (452, "4.2.2 Mailbox full", False),
        (550, "5.1.1 No such user", False),
        (554, "5.7.1 Rejected as spam", False),
    ],
)
def test_slow_down_answers_are_told_from_others(code: int, text: str, throttle: bool) -> None:
    assert is_throttle(code, text) is throttle


def test_the_known_providers_have_documented_defaults() -> None:
    assert defaults_for("SMTP.office365.com").rate == Rate(30, 60)
    assert defaults_for("gmail.googleapis.com").recipients_per_day == 10_000
    assert defaults_for("mail.example.org").rate is None
