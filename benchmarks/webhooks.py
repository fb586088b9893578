"""Webhook benchmark: what a webhook wanting every event costs ingest, and how fast deliveries
go out to one local receiver, in one run (SQLite).

    make bench-webhooks N=3000     (or: .venv/bin/python -m benchmarks.webhooks --messages 3000)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot
from tests.servers.webhook_receiver import WebhookReceiver

from benchmarks.ingest import PASSWORD, corpus, setup_postroom
from postroom.services import fetching, webhook_delivery, webhooks
from postroom.services.actors import OPERATOR
from postroom.storage.db import unit_of_work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=3000)
    args = parser.parse_args()
    n, user = args.messages, "bench@example.test"
    with (
        Dovecot(users={user: PASSWORD}, ca=TestCA()) as dovecot,
        tempfile.TemporaryDirectory() as tmp,
        WebhookReceiver() as receiver,
    ):
        dovecot.deliver(user, corpus(n))
        rates = {}
        for hook in (False, True):
            label = "with a '*' webhook" if hook else "without webhooks"
            engine = setup_postroom(dovecot, user, f"sqlite:///{tmp}/{hook}.db", Path(tmp) / label)
            if hook:
                with unit_of_work(engine) as db:
                    webhooks.add(db, OPERATOR, "all", receiver.url, ["*"])
            started = time.perf_counter()
            fetching.fetch_once(engine)
            rates[hook] = n / (time.perf_counter() - started)
            print(f"ingest {label:20} {rates[hook]:8.0f} msg/s")
            if hook:
                started, delivered = time.perf_counter(), 0
                while (result := webhook_delivery.flush_once(engine)).delivered:
                    delivered += result.delivered
                rate = delivered / (time.perf_counter() - started)
                print(f"deliveries to one receiver   {rate:8.0f} /s ({delivered} events)")
            engine.dispose()
        print(f"ingest with the webhook: {rates[True] / rates[False]:.0%} of without")


if __name__ == "__main__":
    main()
