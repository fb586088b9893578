"""A mailbox's 30 days as a small bar chart drawn on the server (SVG, no script): messages a
day above the line, failures a day below it, each bar titled with its day and count."""

from __future__ import annotations

from dataclasses import dataclass

from postroom.services.mailbox_activity import Activity

SLOT = 6  # pixels a day
BAR = 4
TOP = 28  # the messages' band
BOTTOM = 10  # the failures' band, under the line


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    height: int
    kind: str  # "messages" or "failures": the CSS class, so the colours live in the stylesheet
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    line: int  # y of the base line
    bars: list[Bar]
    label: str


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _scaled(value: int, top: int, band: int) -> int:
    """At least a pixel for any non-zero day, so one email is never drawn as none."""
    return 0 if value == 0 else max(1, round(band * value / top))


def daily_bars(activity: Activity) -> Chart:
    most = max(activity.messages, default=0) or 1
    worst = max(activity.failures, default=0) or 1
    bars: list[Bar] = []
    for i, (day, messages, failures) in enumerate(
        zip(activity.days, activity.messages, activity.failures, strict=True)
    ):
        x = i * SLOT + (SLOT - BAR) // 2
        if messages:
            height = _scaled(messages, most, TOP)
            title = f"{day.isoformat()}: {_count(messages, 'message')}"
            bars.append(Bar(x, TOP - height, height, "messages", title))
        if failures:
            height = _scaled(failures, worst, BOTTOM)
            title = f"{day.isoformat()}: {_count(failures, 'failure')}"
            bars.append(Bar(x, TOP + 1, height, "failures", title))
    total, failed = sum(activity.messages), sum(activity.failures)
    label = (
        f"Last {len(activity.days)} days: {_count(total, 'message')}, {_count(failed, 'failure')}"
    )
    return Chart(len(activity.days) * SLOT, TOP + 1 + BOTTOM, TOP, bars, label)
