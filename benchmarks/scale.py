"""One worker's capacity: M IMAP mailboxes under IDLE on a private Dovecot, PostgreSQL.

    make bench-scale M=2000      (or: .venv/bin/python -m benchmarks.scale --mailboxes 2000)

Prints, for one `postroom worker` process: the time until it holds an IDLE connection for
every mailbox and has fetched each once (settle), RSS per mailbox above the same worker with
no mailboxes, threads, CPU while idle, and delivery → request p50/p99 over random deliveries
(the request's commit time minus the delivery's). Then a second worker joins (connections per
worker), and one worker is killed with SIGKILL in the middle of a burst: how long until every
email of the burst is a request, and how many were lost or imported twice.

Targets: ≤ 100 KB RSS a mailbox, < 5 % of a core idle, p99 ≤ 1.5 s with 2,000 mailboxes;
two workers hold M connections (± 10 %), about half each; after kill -9 every email is a
request within 30 s, none lost, none twice.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import IO

import psycopg
from tests.mailfactory import email_from
from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot

from benchmarks.ingest import postgres_database
from postroom.config import get_settings
from postroom.storage import db as storage_db
from postroom.storage import migrate
from postroom.storage.secrets import default_box

PASSWORD = "scale-pass-1"


# Dovecot for many clients: many connections per imap process (each IDLE-ing process holds
# one inotify instance, and fs.inotify.max_user_instances is 128 for the mail user, shared with
# every other Dovecot on the machine: at most ~40 processes here), high process and client
# limits, and no per-user connection limit in the way.
def many_clients(mailboxes: int) -> str:
    per_process = max(64, mailboxes // 40 + 1)
    return f"""
default_client_limit = 20000
default_process_limit = 1000
service imap {{
  service_count = 0
  client_limit = {per_process}
  process_limit = 400
}}
service imap-login {{
  service_count = 0
  client_limit = 2000
  process_min_avail = 2
}}
"""


MANY_CLIENTS = many_clients(2000)


def rss_kb(pid: int) -> int:
    return _status(pid, "VmRSS")


def threads(pid: int) -> int:
    return _status(pid, "Threads")


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connections(pid: int, port: int) -> int:
    """Established TCP connections from `pid` to `port` on loopback."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        remote_port = int(parts[2].split(":")[1], 16)
        if parts[3] == "01" and remote_port == port and parts[9] in inodes:
            count += 1
    return count


def wait(what: str, check: object, timeout: float, every: float = 0.5) -> float:
    assert callable(check)
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)
    return time.monotonic() - started


class Bench:
    def __init__(
        self,
        mailboxes: int,
        url: str,
        data_dir: Path,
        dovecot: Dovecot,
        tls: bool = False,
        logs: Path | None = None,
    ) -> None:
        self.m = mailboxes
        self.tls = tls
        self.logs = logs  # each worker's INFO log goes to a file here (profiling a phase)
        self.url = url
        self.dovecot = dovecot
        self.users = [f"scale-{i}@example.test" for i in range(mailboxes)]
        self.env = dict(
            os.environ,
            POSTROOM_DATABASE_URL=url,
            POSTROOM_DATA_DIR=str(data_dir),
            POSTROOM_LOG_LEVEL="INFO" if logs else "WARNING",
            POSTROOM_SENDER_RATE_LIMIT="1000000",
            SSL_CERT_FILE=str(TestCA.shared().ca_bundle_path),  # trust the test CA, as operators do
        )
        os.environ.update(self.env)
        for cache in (get_settings, default_box, storage_db.engine_for):
            cache.cache_clear()
        migrate.upgrade(storage_db.default_engine())
        self.db = psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True)

    def worker(self) -> subprocess.Popen[bytes]:
        if self.logs is None:
            log: int | IO[bytes] = subprocess.DEVNULL
        else:
            self.logs.mkdir(parents=True, exist_ok=True)
            log = (self.logs / f"worker-{len(list(self.logs.iterdir()))}.log").open("wb")
        return subprocess.Popen(
            [sys.executable, "-m", "postroom", "worker"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )

    def setup(self) -> None:
        from postroom.services import servers, workflows
        from postroom.services.actors import OPERATOR
        from postroom.services.servers import ServerSpec
        from postroom.storage.db import unit_of_work

        engine = storage_db.default_engine()
        with unit_of_work(engine) as db:
            workflows.add(db, OPERATOR, "Support", "New,Triage,Done")
            port = self.dovecot.imaps_port if self.tls else self.dovecot.imap_port
            security = "tls" if self.tls else "none"
            spec = ServerSpec("in", "imap", host=self.dovecot.host, port=port, security=security)
            servers.add(db, OPERATOR, spec)

    def add_mailboxes(self) -> None:
        from postroom.services import mailboxes
        from postroom.services.actors import OPERATOR
        from postroom.services.mailboxes import MailboxSpec
        from postroom.storage.db import unit_of_work

        for user in self.users:
            self.dovecot.add_user(user, PASSWORD)
        engine = storage_db.default_engine()
        for start in range(0, self.m, 500):
            with unit_of_work(engine) as db:
                for user in self.users[start : start + 500]:
                    spec = MailboxSpec(
                        user, incoming="in", system=True, password=PASSWORD, workflow="Support"
                    )
                    mailboxes.add(db, OPERATOR, spec)

    def heartbeats(self) -> bool:
        row = self.db.execute("SELECT count(*) FROM workers").fetchone()
        return bool(row and row[0])

    def quiet(self, seconds: float) -> bool:
        """No mailbox fetched in the last `seconds`: the first round is over."""
        row = self.db.execute(
            "SELECT count(*) FROM mailboxes WHERE last_checked_at > now() - %s * interval '1s'",
            (seconds,),
        ).fetchone()
        return bool(row is not None and row[0] == 0)

    def checked(self) -> int:
        row = self.db.execute(
            "SELECT count(*) FROM mailboxes WHERE last_checked_at IS NOT NULL"
        ).fetchone()
        return int(row[0]) if row else 0

    def requests(self, prefix: str) -> list[tuple[str, datetime]]:
        return [
            (str(s), c)
            for s, c in self.db.execute(
                "SELECT subject, created_at FROM requests WHERE subject LIKE %s", (prefix + "%",)
            ).fetchall()
        ]

    def owners(self) -> Counter[str]:
        rows = self.db.execute("SELECT lease_owner FROM mailboxes").fetchall()
        return Counter(str(r[0]) for r in rows)

    def deliver(self, user: str, subject: str) -> float:
        self.dovecot.deliver(user, [email_from("ann@example.org", subject)])
        return time.time()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def takeover(
    bench: Bench,
    first: subprocess.Popen[bytes],
    second: subprocess.Popen[bytes],
    port: int,
    size: int,
    rng: random.Random,
) -> None:
    """kill -9 of `first` in the middle of a burst of `size` emails to random mailboxes."""
    burst: dict[str, float] = {}
    killed_at = 0.0
    for i in range(size):
        subject = f"burst-{i}-{uuid.uuid4().hex[:6]}"
        burst[subject] = bench.deliver(rng.choice(bench.users), subject)
        if i == size // 2:
            first.send_signal(signal.SIGKILL)
            first.wait()
            killed_at = time.time()
            print(f"killed at {datetime.fromtimestamp(killed_at).isoformat()}", flush=True)
        time.sleep(0.02)
    try:
        wait(
            "every email of the burst a request",
            lambda: len({s for s, _ in bench.requests("burst-")}) >= len(burst),
            timeout=120,
        )
    except SystemExit as exc:
        print(exc)
    found = bench.requests("burst-")
    counts = Counter(s for s, _ in found)
    lost = len(set(burst) - set(counts))
    twice = sum(1 for n in counts.values() if n > 1)
    lags = [c.timestamp() - burst[s] for s, c in found]
    last = max(c.timestamp() for _, c in found) - killed_at
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(
        f"kill -9 of a worker mid-burst ({size} emails): every email a request "
        f"{last:.1f} s after the kill; slowest delivery → request {max(lags):.1f} s "
        f"(target ≤ 30 s); lost {lost}, twice {twice} (target 0, 0); "
        f"survivor holds {connections(second.pid, port)} connections",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mailboxes", type=int, default=2000)
    parser.add_argument("--deliveries", type=int, default=100)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--tls", action="store_true", help="IMAPS instead of plain IMAP")
    parser.add_argument(
        "--only-takeover",
        action="store_true",
        help="skip the one-worker figures: start two workers, then the kill -9 phase",
    )
    parser.add_argument("--logs", type=Path, help="keep each worker's INFO log in this folder")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    url = postgres_database()
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") >> 30
    print(
        f"machine: {os.cpu_count()} cores, {memory} GB, load average "
        f"{os.getloadavg()[0]:.1f}; {args.mailboxes} mailboxes, Dovecot IMAP "
        f"({'TLS' if args.tls else 'plain'}, loopback), "
        "PostgreSQL",
        flush=True,
    )
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with (
            Dovecot(ca=TestCA.shared(), extra_config=many_clients(args.mailboxes)) as dovecot,
            tempfile.TemporaryDirectory() as tmp,
        ):
            bench = Bench(args.mailboxes, url, Path(tmp), dovecot, tls=args.tls, logs=args.logs)
            bench.setup()
            port = dovecot.imaps_port if args.tls else dovecot.imap_port
            if args.only_takeover:
                bench.add_mailboxes()
                first, second = bench.worker(), bench.worker()
                workers += [first, second]
                joined = time.monotonic()
                both = (first, second)
                wait(
                    "two workers hold every mailbox, each fetched once",
                    lambda: (
                        sum(connections(w.pid, port) for w in both) >= args.mailboxes
                        and bench.checked() >= args.mailboxes
                    ),
                    timeout=1800,
                )
                print(f"two workers settled in {time.monotonic() - joined:.1f} s", flush=True)
                wait("the first round of fetches over", lambda: bench.quiet(5), timeout=600)
                takeover(bench, first, second, port, args.burst, random.Random(7))
                return
            empty = bench.worker()
            wait("the empty worker's first heartbeat", bench.heartbeats, timeout=120)
            time.sleep(5)  # start-up done, nothing to hold: the baseline
            base_rss, base_threads = rss_kb(empty.pid), threads(empty.pid)
            empty.send_signal(signal.SIGTERM)
            empty.wait()
            bench.add_mailboxes()
            started = time.monotonic()
            first = bench.worker()
            workers.append(first)
            wait(
                "every mailbox under IDLE and fetched once",
                lambda: (
                    connections(first.pid, port) >= args.mailboxes
                    and bench.checked() >= args.mailboxes
                ),
                timeout=1800,
            )
            settle = time.monotonic() - started
            wait("the first round of fetches over", lambda: bench.quiet(10), timeout=600)
            cpu_before, t_before = cpu_seconds(first.pid), time.monotonic()
            time.sleep(30)
            idle_cpu = (cpu_seconds(first.pid) - cpu_before) / (time.monotonic() - t_before)
            rss = rss_kb(first.pid)
            per_mailbox = (rss - base_rss) / args.mailboxes
            print(
                f"one worker: settled in {settle:.1f} s; RSS {rss / 1024:.0f} MB "
                f"({base_rss / 1024:.0f} MB with no mailboxes): {per_mailbox:.1f} KB a mailbox "
                f"(target ≤ 100); threads {threads(first.pid)} ({base_threads} with none); "
                f"idle CPU {idle_cpu * 100:.2f} % of a core (target < 5); "
                f"IMAP connections {connections(first.pid, port)}",
                flush=True,
            )

            rng = random.Random(7)
            sent: dict[str, float] = {}
            for i in range(args.deliveries):
                subject = f"lat-{i}-{uuid.uuid4().hex[:6]}"
                sent[subject] = bench.deliver(rng.choice(bench.users), subject)
                time.sleep(rng.uniform(0.1, 0.3))
            wait("every delivery a request", lambda: len(bench.requests("lat-")) >= len(sent), 120)
            latencies = [c.timestamp() - sent[s] for s, c in bench.requests("lat-")]
            print(
                f"delivery → request over {len(latencies)} deliveries to random mailboxes: "
                f"p50 {statistics.median(latencies) * 1000:.0f} ms, "
                f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
                f"max {max(latencies) * 1000:.0f} ms (target p99 ≤ 1500 ms)",
                flush=True,
            )

            second = bench.worker()
            workers.append(second)
            joined = time.monotonic()

            def balanced() -> bool:
                a, b = connections(first.pid, port), connections(second.pid, port)
                m: int = args.mailboxes
                return b >= 0.4 * m and abs(a + b - m) <= 0.02 * m

            wait("the second worker takes its share", balanced, timeout=600)
            rebalance = time.monotonic() - joined
            time.sleep(10)
            a, b = connections(first.pid, port), connections(second.pid, port)
            print(
                f"two workers: {a} + {b} = {a + b} IMAP connections for {args.mailboxes} "
                f"mailboxes (target M ± 10 %, half each), balanced {rebalance:.1f} s after "
                f"the second started; owners {sorted(bench.owners().values())}",
                flush=True,
            )

            takeover(bench, first, second, port, args.burst, rng)
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        name = url.rsplit("/", 1)[1]
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


if __name__ == "__main__":
    main()
