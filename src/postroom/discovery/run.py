"""All sources at once, each bounded by the context's timeout; one slow or broken source never
hides what the others found, and its outcome says what happened to it."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait

from postroom.discovery.context import DiscoveryContext
from postroom.discovery.model import (
    Candidate,
    Discovery,
    Nothing,
    OutcomeStatus,
    Skipped,
    Source,
    SourceFailed,
    SourceOutcome,
)
from postroom.discovery.rank import rank

log = logging.getLogger(__name__)
GRACE_SECONDS = 0.25  # lets a source report its own timeout, which names what it waited for


def _one(
    source: Source, address: str, ctx: DiscoveryContext
) -> tuple[list[Candidate], SourceOutcome]:
    started = time.monotonic()

    def outcome(status: OutcomeStatus, detail: str) -> SourceOutcome:
        return SourceOutcome(source.name, status, detail, time.monotonic() - started)

    try:
        found = source.lookup(address, ctx)
    except Skipped as exc:
        return [], outcome(OutcomeStatus.SKIPPED, str(exc))
    except Nothing as exc:
        return [], outcome(OutcomeStatus.NOTHING, str(exc))
    except SourceFailed as exc:
        return [], outcome(OutcomeStatus.FAILED, str(exc))
    except TimeoutError as exc:
        return [], outcome(OutcomeStatus.TIMED_OUT, str(exc) or f"no answer in {ctx.timeout:g} s")
    except Exception as exc:  # a bug in one source must not hide the others' answers
        log.exception("discovery source %s failed", source.name)
        return [], outcome(OutcomeStatus.FAILED, f"unexpected error: {exc}")
    if not found:
        return [], outcome(OutcomeStatus.NOTHING, "nothing found")
    return found, outcome(OutcomeStatus.FOUND, f"{len(found)} setting(s)")


def run(address: str, domain: str, sources: Sequence[Source], ctx: DiscoveryContext) -> Discovery:
    pool = ThreadPoolExecutor(max_workers=len(sources), thread_name_prefix="discovery")
    futures = [pool.submit(_one, s, address, ctx) for s in sources]
    wait(futures, timeout=ctx.timeout + GRACE_SECONDS)
    # Sources still running end on their own socket timeouts; nobody waits for them.
    pool.shutdown(wait=False, cancel_futures=True)
    found: dict[str, list[Candidate]] = {}
    outcomes: list[SourceOutcome] = []
    for source, future in zip(sources, futures, strict=True):
        if future.done() and not future.cancelled():
            candidates, outcome = future.result()
            found[source.name] = candidates
        else:
            outcome = SourceOutcome(
                source.name,
                OutcomeStatus.TIMED_OUT,
                f"no answer within {ctx.timeout:g} s",
                ctx.timeout,
            )
        outcomes.append(outcome)
    order = [s.name for s in sources]
    return Discovery(address, domain, rank(found, order), tuple(outcomes))
