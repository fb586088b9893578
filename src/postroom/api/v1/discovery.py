"""Discovery: server settings for an address, for anyone signed in (adding a personal mailbox
starts here). Nothing signs in anywhere and no password is asked for."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query

from postroom.api.deps import CallerDep
from postroom.api.network_calls import NetworkCallsDep
from postroom.services import discovery, present

router = APIRouter(prefix="/discover", tags=["discovery"])


@router.get("")
async def discover(
    address: Annotated[str, Query(max_length=320, description="the email address")],
    caller: CallerDep,
    calls: NetworkCallsDep,
    timeout: Annotated[
        float | None, Query(gt=0, le=60, description="seconds each source may take")
    ] = None,
) -> Any:
    """Ranked candidates, each naming its source, the best to receive and to send with, and
    what every source found; guessed hosts say so and must be confirmed before use."""
    result = await calls.run(
        caller.actor, partial(discovery.discover, caller.actor, address, timeout=timeout)
    )
    best = {"receiving": result.best(sending=False), "sending": result.best(sending=True)}
    return present.discovery(result) | {
        "best": {role: present.candidate(c) if c else None for role, c in best.items()}
    }
