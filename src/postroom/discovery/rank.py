"""Ranking and deduplication: one candidate per (protocol, host, port, security), the most
authoritative source's version kept, the others named as agreeing with it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from postroom.discovery.model import Candidate


def rank(found: Mapping[str, Sequence[Candidate]], order: Sequence[str]) -> tuple[Candidate, ...]:
    """Sources in `order` first (unknown names after, as given); within a source its own order,
    which is the publisher's preference. Contradicting settings all stay, in rank order."""
    names = [n for n in order if n in found] + [n for n in found if n not in order]
    merged: dict[tuple[object, ...], Candidate] = {}
    for name in names:
        for candidate in found[name]:
            kept = merged.get(candidate.key)
            if kept is None:
                merged[candidate.key] = candidate
            elif candidate.source != kept.source and candidate.source not in kept.also_found_by:
                merged[candidate.key] = replace(
                    kept,
                    also_found_by=(*kept.also_found_by, candidate.source),
                    guessed=kept.guessed and candidate.guessed,
                )
    return tuple(merged.values())
