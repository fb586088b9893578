"""Reading a Discovery the way the tests ask about it."""

from __future__ import annotations

from postroom.discovery.model import Discovery, OutcomeStatus


def statuses(result: Discovery) -> dict[str, OutcomeStatus]:
    return {o.source: o.status for o in result.outcomes}


def found_by(result: Discovery) -> set[str]:
    return {s for s, status in statuses(result).items() if status is OutcomeStatus.FOUND}


def settings(result: Discovery) -> list[tuple[str, str, str, int, str]]:
    """(source, protocol, host, port, security) in rank order."""
    return [
        (c.source, c.protocol.value, c.host, c.port, c.security.value) for c in result.candidates
    ]


def detail(result: Discovery, source: str) -> str:
    return next(o.detail for o in result.outcomes if o.source == source)
