"""Memory for one large message: fetch a 50 MB email end to end and report the peak resident
memory it added, as a multiple of its size. Target: well under ten times.

    make bench-memory      (or: .venv/bin/python -m benchmarks.memory --megabytes 50)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from email.message import EmailMessage
from pathlib import Path

from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot

from benchmarks.ingest import PASSWORD, setup_postroom


def big_email(megabytes: int) -> bytes:
    message = EmailMessage()
    message["From"] = "ann@example.org"
    message["To"] = "bench@example.test"
    message["Subject"] = "Logs attached"
    message["Message-ID"] = "<big@example.org>"
    message.set_content("The logs are attached.")
    raw = os.urandom(megabytes * 1024 * 1024 * 3 // 4)  # base64 grows it back to the size
    message.add_attachment(raw, maintype="application", subtype="octet-stream", filename="logs.bin")
    return message.as_bytes()


CHILD = """
import atexit, sys
def report():
    status = open('/proc/self/status').read()
    sys.stderr.write('VmHWM ' + status.split('VmHWM:')[1].split()[0] + '\\n')
atexit.register(report)
sys.argv = ['postroom', *sys.argv[1:]]
from postroom.cli.main import run
run()
"""


def child_peak(*args: str) -> int:
    """Run `postroom ARGS` in a fresh process; its peak resident memory (VmHWM, per process)."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args, "--json"], check=True, capture_output=True, text=True
    )
    kilobytes = int(done.stderr.rsplit("VmHWM ", 1)[1].split()[0])
    return kilobytes * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=int, default=50)
    args = parser.parse_args()
    user = "bench@example.test"
    raw = big_email(args.megabytes)
    size = len(raw)
    with (
        Dovecot(users={user: PASSWORD}, ca=TestCA()) as dovecot,
        tempfile.TemporaryDirectory() as tmp,
    ):
        dovecot.deliver(user, [raw])
        del raw
        os.environ["POSTROOM_MAX_MESSAGE_SIZE"] = str(200 * 1024 * 1024)
        setup_postroom(dovecot, user, f"sqlite:///{tmp}/bench.db", Path(tmp)).dispose()
        baseline = child_peak("mailbox", "list")  # the same process, imports and all, no mail
        peak = child_peak("fetch", "--once")
    added = peak - baseline
    print(
        f"message: {size / 1e6:.1f} MB; a fetch process peaked {added / 1e6:.1f} MB above an "
        f"idle one = {added / size:.1f} x the message's size (target: well under 10 x)"
    )


if __name__ == "__main__":
    main()
