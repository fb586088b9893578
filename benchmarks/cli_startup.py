"""CLI start-up benchmark: what a `postroom` call that does no password work costs.

    make bench-cli      (or: .venv/bin/python -m benchmarks.cli_startup --runs 9)

Each call is a new process, as a script or a person starts it, on a SQLite database with a few
rows of each kind (servers, a workflow, mailboxes): the read-only calls an operator makes most.
Prints the median wall and CPU seconds of a few runs after a warm-up, against the target of
0.3 s (DESIGN: "a call that does no password work starts in <= 0.3 s"), and the floor under
it: Python alone, and the imports no call can skip (Typer, SQLAlchemy; Typer is pinned below
0.29, which imported pydantic and built an adapter per parameter on every call: pyproject).
The lists read SQLAlchemy Core tables without the ORM (storage/tables.py, services/listings.py),
so "+ sqlalchemy" is their floor and "+ sqlalchemy.orm" what a write still pays.
tests/integration/test_cli_startup.py proves what is not imported; this measures.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

POSTROOM = str(Path(sys.executable).with_name("postroom"))
TARGET = 0.3
CALLS = (
    ["--help"],
    ["mailbox", "list"],
    ["mailbox", "list", "--json"],
    ["server", "list", "--json"],
    ["workflow", "list", "--json"],
    ["user", "list", "--json"],
    ["connection", "list", "--json"],
    ["webhook", "list", "--json"],
    ["token", "list", "--json"],
)
FLOOR = {
    "python -c pass": "pass",
    "typer": "import typer.main",
    "+ sqlalchemy": "import typer.main, sqlalchemy",
    "+ sqlalchemy.orm": "import typer.main, sqlalchemy.orm",
}


def timed(
    command: list[str], env: dict[str, str], stdin: str | None = None
) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        command, env=env, input=stdin, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stderr
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, done.stdout


def median_of(command: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    timed(command, env)  # a warm-up: bytecode compiled, files in the page cache
    samples = [timed(command, env)[:2] for _ in range(runs)]
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def start_up(args: list[str], env: dict[str, str], runs: int) -> str:
    """One line for `postroom ARGS`: median wall and CPU seconds."""
    wall, cpu = median_of([POSTROOM, *args], env, runs)
    return f"{wall:6.3f} s wall  {cpu:6.3f} s CPU  (median of {runs})"


def fresh_database(data_dir: Path) -> dict[str, str]:
    """The environment of a new SQLite database holding a few rows of each kind listed."""
    env = {**os.environ, "POSTROOM_DATA_DIR": str(data_dir)}
    env.pop("POSTROOM_DATABASE_URL", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode is cached
    for server in (
        ["in", "--protocol", "imap", "--host", "imap.example.test"],
        ["out", "--protocol", "smtp", "--host", "smtp.example.test"],
    ):
        timed([POSTROOM, "server", "add", *server], env)
    timed([POSTROOM, "workflow", "add", "Desk", "--steps", "New,Triage,Done"], env)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--mailboxes", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = fresh_database(Path(tmp) / "data")
        for i in range(args.mailboxes):
            mailbox = [f"desk{i}@example.test", "--incoming", "in", "--outgoing", "out"]
            add = [POSTROOM, "mailbox", "add", *mailbox, "--workflow", "Desk", "--password-stdin"]
            timed(add, env, stdin="secret\n")
        print(f"target: <= {TARGET} s wall for a call that does no password work")
        for name, code in FLOOR.items():
            wall, cpu = median_of([sys.executable, "-c", code], env, args.runs)
            print(f"floor  {name:28} {wall:6.3f} s wall  {cpu:6.3f} s CPU")
        for call in CALLS:
            print(f"postroom {' '.join(call):28} {start_up(call, env, args.runs)}")


if __name__ == "__main__":
    main()
