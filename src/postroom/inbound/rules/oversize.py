"""Mail larger than the limit is held, not opened: an admin decides whether it is wanted.

The reason gives sizes in units a person reads, and the exact bytes so nobody wonders why
"25 MiB" is over a 25 MiB limit.
"""

from __future__ import annotations

from postroom.domain.messages import Headers, Hit
from postroom.inbound.rules.base import RuleContext

UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB")


def human_size(size: int) -> str:
    """`26214400` -> "25 MiB", `1536` -> "1.5 KiB": binary units, at most one decimal."""
    value = float(size)
    for unit in UNITS:
        if abs(value) < 1024 or unit == UNITS[-1]:
            break
        value /= 1024
    number = f"{value:.1f}".removesuffix(".0")
    return f"{number} {unit}"


class Oversize:
    name = "oversize"
    description = "Larger than the size limit"

    def check(self, msg: Headers, context: RuleContext) -> Hit | None:
        if msg.size <= context.max_size:
            return None
        return Hit(
            self.name,
            f"{human_size(msg.size)} ({msg.size:,} bytes) is over the "
            f"{human_size(context.max_size)} limit",
        )
