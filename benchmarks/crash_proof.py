"""The full-size crash proof: 2,000 messages, the fetching process killed with SIGKILL at 20
random instants, over IMAP and over POP3. `make test` runs the same proof smaller.

    make bench-crash      (or: .venv/bin/python -m benchmarks.crash_proof)
"""

from __future__ import annotations

import os
import subprocess
import sys


def main() -> None:
    env = os.environ | {"POSTROOM_TEST_KILLS": "20", "POSTROOM_TEST_CRASH_MESSAGES": "2000"}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "timeout=1800",
        "tests/integration/test_inbound_faults.py",
        "-k",
        "sigkill",
    ]
    sys.exit(subprocess.run(command, env=env, check=False).returncode)


if __name__ == "__main__":
    main()
