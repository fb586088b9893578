"""SIGKILL at random instants, for the crash proofs: a process killed while it has work."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence


def timed_run(args: Sequence[str], env: dict[str, str], timeout: float | None = None) -> bool:
    """Run `python -m postroom ARGS`; kill it with SIGKILL after `timeout` seconds if it is
    still running. True when it was killed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "postroom", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        proc.wait(timeout=timeout)  # the fault injected: death at a random instant
        return False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return True


def kill_randomly(
    args: Sequence[str], env: dict[str, str], seed: int, kills: int, refill: Callable[[], None]
) -> int:
    """Kill runs of `postroom ARGS` at random instants until `kills` of them died mid-way.

    The instants are drawn from half the start-up time of a run with nothing to do (measured
    here first) to a second past it, so they land while work is being done, on a fast
    machine or a slow one. A run that finished before its instant used up the work:
    `refill` adds more before each round. Returns how many runs were killed.
    """
    rng = random.Random(seed)
    started = time.perf_counter()
    timed_run(args, env)
    idle = time.perf_counter() - started
    killed = 0
    for _ in range(kills * 6):
        if killed == kills:
            break
        refill()
        killed += timed_run(args, env, rng.uniform(idle * 0.5, idle + 1.0))
    return killed


def kill_when(
    args: Sequence[str], env: dict[str, str], ready: Callable[[], bool], deadline: float = 60.0
) -> bool:
    """Run `python -m postroom ARGS` and SIGKILL it the moment `ready()` holds (a condition
    on what it committed, checked between short waits on the process itself). True when it
    was killed; False when it ended first, so the caller can tell a proof from a miss."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "postroom", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stop = time.monotonic() + deadline
    try:
        while time.monotonic() < stop:
            if ready():
                proc.kill()
                return True
            try:
                proc.wait(timeout=0.005)
                return False
            except subprocess.TimeoutExpired:
                continue
        raise TimeoutError(f"postroom {' '.join(args)}: the condition did not hold in time")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
