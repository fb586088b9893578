"""Memory for one large message: fetch a 50 MB email end to end and report the peak resident
memory it added, as a multiple of its size. Target: well under ten times.

    make bench-memory      (or: .venv/bin/python -m benchmarks.memory --megabytes 50)
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
from email.message import EmailMessage
from pathlib import Path

from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot

from benchmarks.ingest import PASSWORD, postroom_run


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
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        _, fetched = postroom_run(dovecot, user, f"sqlite:///{tmp}/bench.db", Path(tmp))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert fetched == 1
    added = after - before
    print(
        f"message: {size / 1e6:.1f} MB; peak memory added: {added / 1e6:.1f} MB "
        f"= {added / size:.1f} x its size"
    )


if __name__ == "__main__":
    main()
