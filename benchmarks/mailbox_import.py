"""Bulk set-up benchmark: `postroom mailbox import` of N mailboxes, and CLI start-up.

    make bench-import ROWS=1000      (or: .venv/bin/python -m benchmarks.mailbox_import --rows 1000)

Times, as new processes a user would start on a fresh SQLite database: `postroom --help`,
`postroom mailbox list --json` (the start-up of a call that does no password work; target
<= 0.3 s) and `postroom mailbox import FILE` of N CSV rows with passwords (target: 1,000 in
<= 30 s). Prints wall and CPU seconds, the median of a few runs for the start-up figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

POSTROOM = str(Path(sys.executable).with_name("postroom"))


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of one `postroom ARGS` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([POSTROOM, *args], env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert done.returncode == 0, done.stderr
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, done.stdout


def start_up(args: list[str], env: dict[str, str], runs: int) -> str:
    timed(args, env)  # a warm-up: bytecode compiled, files in the page cache
    samples = [timed(args, env)[:2] for _ in range(runs)]
    wall = statistics.median(s[0] for s in samples)
    cpu = statistics.median(s[1] for s in samples)
    return f"{wall:6.3f} s wall  {cpu:6.3f} s CPU  (median of {runs})"


def write_rows(path: Path, rows: int) -> None:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["address", "incoming", "outgoing", "password", "name", "after-import"])
        for i in range(rows):
            writer.writerow(
                [f"desk{i}@example.test", "in", "out", f"secret-{i}", f"Desk {i}", "keep"]
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "POSTROOM_DATA_DIR": str(Path(tmp) / "data")}
        env.pop("POSTROOM_DATABASE_URL", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode is cached
        for server in (
            ["in", "--protocol", "imap", "--host", "imap.example.test"],
            ["out", "--protocol", "smtp", "--host", "smtp.example.test"],
        ):
            timed(["server", "add", *server], env)
        print(f"postroom --help                  {start_up(['--help'], env, args.runs)}")
        listing = start_up(["mailbox", "list", "--json"], env, args.runs)
        print(f"postroom mailbox list --json     {listing}")
        file = Path(tmp) / "mailboxes.csv"
        write_rows(file, args.rows)
        wall, cpu, out = timed(["mailbox", "import", str(file), "--json"], env)
        assert json.loads(out)["added"] == args.rows
        print(f"postroom mailbox import {args.rows} rows  {wall:6.3f} s wall  {cpu:6.3f} s CPU")


if __name__ == "__main__":
    main()
