"""Bulk set-up benchmark: `postroom mailbox import` of N mailboxes, and CLI start-up.

    make bench-import ROWS=1000      (or: .venv/bin/python -m benchmarks.mailbox_import --rows 1000)

Times, as new processes a user would start on a fresh SQLite database: `postroom --help`,
`postroom mailbox list --json` (the start-up of a call that does no password work; target
<= 0.3 s, measured in full by benchmarks/cli_startup.py) and `postroom mailbox import FILE` of
N CSV rows with passwords (target: 1,000 in <= 30 s). Prints wall and CPU seconds, the median of
a few runs for the start-up figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path

from benchmarks.cli_startup import POSTROOM, fresh_database, start_up, timed


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
        env = fresh_database(Path(tmp) / "data")
        print(f"postroom --help                  {start_up(['--help'], env, args.runs)}")
        listing = start_up(["mailbox", "list", "--json"], env, args.runs)
        print(f"postroom mailbox list --json     {listing}")
        file = Path(tmp) / "mailboxes.csv"
        write_rows(file, args.rows)
        wall, cpu, out = timed([POSTROOM, "mailbox", "import", str(file), "--json"], env)
        assert json.loads(out)["added"] == args.rows
        print(f"postroom mailbox import {args.rows} rows  {wall:6.3f} s wall  {cpu:6.3f} s CPU")


if __name__ == "__main__":
    main()
