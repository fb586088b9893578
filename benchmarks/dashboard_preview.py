"""A picture of the Grafana dashboard's panels, drawn from real scrapes of a running postroom.

Starts Dovecot and an SMTP server on loopback, `postroom serve` on them with three mailboxes,
a connection and a webhook whose receiver is down, then delivers and sends mail for a while,
scraping /metrics with a metrics token about every second. The panels of
deploy/grafana/postroom.json are then drawn from those scrapes as SVG in an HTML page, which
Chromium (through Playwright) saves as a PNG. It is not Grafana: the same queries, computed
here from the same samples.

    .venv/bin/python -m benchmarks.dashboard_preview --seconds 100
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.conftest import chromium_path
from tests.mailfactory import email_from
from tests.servers.certs import TestCA
from tests.servers.dovecot import Dovecot
from tests.servers.ports import free_port
from tests.servers.smtp import SmtpServer

PASSWORD = "desk-pass-1"
DESKS = ("desk@example.test", "sales@example.test", "billing@example.test")
Sample = tuple[str, dict[str, str], float]
Scrape = tuple[float, list[Sample]]
POSTROOM = str(Path(sys.executable).parent / "postroom")


class Postroom:
    def __init__(self, data_dir: Path) -> None:
        self.env = os.environ | {
            "POSTROOM_DATA_DIR": str(data_dir),
            "POSTROOM_LOG_LEVEL": "WARNING",
        }
        self.env.pop("POSTROOM_DATABASE_URL", None)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [POSTROOM, *args],
            env=self.env,
            input=stdin.encode() if stdin else None,
            capture_output=True,
            check=False,
        )
        if done.returncode not in (0, 1):
            raise SystemExit(f"postroom {' '.join(args)}: {done.stderr.decode()}")
        return done.stdout.decode()

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [POSTROOM, *args], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def serve(self) -> None:
        command = [POSTROOM, "serve", "--port", str(self.port)]
        self.server = subprocess.Popen(command, env=self.env, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit("postroom serve did not answer within 30 s")

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=20)


def run_traffic(seconds: float, out_dir: Path) -> list[Scrape]:
    users = dict.fromkeys(DESKS, PASSWORD)
    with (
        Dovecot(users=users, ca=TestCA()) as dovecot,
        SmtpServer(users=users, tls=False) as smtp,
        tempfile.TemporaryDirectory() as tmp,
    ):
        postroom = Postroom(Path(tmp))
        postroom.cli("db", "upgrade")
        postroom.cli("workflow", "add", "Support", "--steps", "New,Triage,Done")
        postroom.cli(
            "server",
            "add",
            "in",
            "--protocol",
            "imap",
            "--host",
            "127.0.0.1",
            "--port",
            str(dovecot.imap_port),
            "--security",
            "none",
        )
        postroom.cli(
            "server",
            "add",
            "out",
            "--protocol",
            "smtp",
            "--host",
            "127.0.0.1",
            "--port",
            str(smtp.port),
            "--security",
            "none",
        )
        for address in DESKS:
            extra = ("--after-import", "keep") if address.startswith("billing") else ()
            postroom.cli(
                "mailbox",
                "add",
                address,
                "--incoming",
                "in",
                "--outgoing",
                "out",
                "--workflow",
                "Support",
                "--password-stdin",
                *extra,
                stdin=PASSWORD + "\n",
            )
        postroom.cli("connection", "add", "notices", "--mailbox", DESKS[0])
        postroom.cli(
            "webhook",
            "add",
            "crm",
            "--url",
            f"http://127.0.0.1:{free_port()}/down",
            "--event",
            "request.opened",
        )
        token = json.loads(postroom.cli("token", "add", "preview", "--metrics", "--json"))["token"]
        postroom.serve()
        scrapes: list[Scrape] = []
        background: list[subprocess.Popen[bytes]] = []
        try:
            started = time.monotonic()
            rng = random.Random(7)
            step = 0
            while time.monotonic() - started < seconds:
                step += 1
                for address in DESKS:
                    mails = [
                        email_from(f"c{rng.randint(1, 40)}@example.org", f"Case {step}")
                        for _ in range(rng.randint(0, 3))
                    ]
                    if rng.random() < 0.3:
                        mails.append(
                            email_from(
                                "mailer-daemon@example.org",
                                "Undelivered",
                                headers={"Auto-Submitted": "auto-replied"},
                            )
                        )
                    if rng.random() < 0.15:
                        mails.append(
                            email_from(
                                "news@example.org",
                                "Weekly news",
                                headers={"List-Id": "<news.example.org>"},
                            )
                        )
                    dovecot.deliver(address, mails)
                if step % 4 == 0:  # in the background: the scrapes keep their pace
                    background.append(
                        postroom.start(
                            "send",
                            "--from",
                            DESKS[0],
                            "--to",
                            "ann@example.org",
                            "--subject",
                            f"Update {step}",
                            "--connection",
                            "notices",
                        )
                    )
                if step == 25:  # a restore lost a row: the gap check finds it
                    with sqlite3.connect(Path(tmp) / "postroom.db") as db:
                        db.execute(
                            "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE "
                            "mailbox_id = (SELECT id FROM mailboxes WHERE address = ?) LIMIT 2)",
                            (DESKS[2],),
                        )
                    background.append(postroom.start("mailbox", "check", DESKS[2]))
                httpx.get(postroom.base + "/api/v1/requests", timeout=5)  # a refused call
                text = httpx.get(
                    postroom.base + "/metrics",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=10,
                ).text
                samples = [
                    (s.name, dict(s.labels), float(s.value))
                    for family in text_string_to_metric_families(text)
                    for s in family.samples
                ]
                scrapes.append((time.monotonic() - started, samples))
                time.sleep(1.0)
        finally:
            for process in background:
                process.wait(timeout=60)
            postroom.stop()
    return scrapes


# ----------------------------------------------------------------------------- the panels


def _sum(samples: list[Sample], name: str, by: str | None = None) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for n, labels, value in samples:
        if n == name:
            out[labels.get(by, "") if by else ""] += value
    return out


def rate_series(
    scrapes: list[Scrape], name: str, by: str | None = None, window: int = 5
) -> dict[str, list[tuple[float, float]]]:
    """Per-minute rate over `window` scrapes, per label value."""
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for i in range(window, len(scrapes)):
        (t0, a), (t1, b) = scrapes[i - window], scrapes[i]
        before, after = _sum(a, name, by), _sum(b, name, by)
        for key in after:
            series[key].append((t1, (after[key] - before.get(key, 0.0)) / (t1 - t0) * 60))
    return series


def quantile_series(
    scrapes: list[Scrape], name: str, q: float, window: int = 8
) -> list[tuple[float, float]]:
    points = []
    for i in range(window, len(scrapes)):
        before = _sum(scrapes[i - window][1], name + "_bucket", "le")
        after = _sum(scrapes[i][1], name + "_bucket", "le")
        buckets = sorted((float(le), after[le] - before.get(le, 0.0)) for le in after)
        total = buckets[-1][1] if buckets else 0
        if total <= 0:
            continue
        lower_bound, lower_count = 0.0, 0.0
        for bound, count in buckets:
            if count >= q * total:
                if bound == float("inf"):
                    points.append((scrapes[i][0], lower_bound))
                else:
                    share = (q * total - lower_count) / max(count - lower_count, 1e-9)
                    points.append((scrapes[i][0], lower_bound + (bound - lower_bound) * share))
                break
            lower_bound, lower_count = bound, count
    return points


def line_chart(series: dict[str, list[tuple[float, float]]], unit: str) -> str:
    colours = ["#5794f2", "#73bf69", "#f2cc0c", "#ff9830", "#f2495c", "#b877d9", "#8ab8ff"]
    width, height, pad = 560, 170, 34
    points = [p for s in series.values() for p in s]
    if not points:
        return "<p class=empty>no data</p>"
    t_max = max(t for t, _ in points) or 1
    v_max = max(v for _, v in points) * 1.15 or 1
    parts = [f'<svg viewBox="0 0 {width} {height + 22}" width="{width}" height="{height + 22}">']
    for k in range(5):
        y = pad / 2 + (height - pad) * k / 4
        parts.append(f'<line x1="{pad}" x2="{width}" y1="{y}" y2="{y}" class=grid />')
        label = v_max * (1 - k / 4)
        parts.append(f'<text x="2" y="{y + 4}" class=axis>{label:.3g}{unit}</text>')
    legend = []
    for n, (key, pts) in enumerate(sorted(series.items())):
        colour = colours[n % len(colours)]
        path = " ".join(
            f"{pad + (width - pad) * t / t_max:.1f},"
            f"{pad / 2 + (height - pad) * (1 - v / v_max):.1f}"
            for t, v in pts
        )
        parts.append(f'<polyline points="{path}" stroke="{colour}" />')
        legend.append(f'<span style="color:{colour}">━</span> {html.escape(key or "all")}')
    parts.append("</svg>")
    return "".join(parts) + f"<div class=legend>{' &nbsp; '.join(legend)}</div>"


def bars(values: dict[str, float], unit: str = "") -> str:
    top = max(values.values(), default=0) or 1
    rows = [
        f"<div class=bar><span class=name>{html.escape(k)}</span>"
        f'<span class=fill style="width:{max(v / top * 60, 0.5):.1f}%"></span>'
        f"<span class=value>{v:.0f}{unit}</span></div>"
        for k, v in sorted(values.items())
    ]
    return "".join(rows) or "<p class=empty>none</p>"


def table(values: dict[str, float], label: str, unit: str = "") -> str:
    rows = "".join(
        f"<tr><td>{label} {html.escape(k)}</td><td>{v:.0f}{unit}</td></tr>"
        for k, v in sorted(values.items(), key=lambda kv: -kv[1])[:6]
    )
    return f"<table>{rows}</table>" if rows else "<p class=empty>none</p>"


def render(scrapes: list[Scrape]) -> str:
    last = scrapes[-1][1]
    per_mailbox: Callable[[str], dict[str, float]] = lambda n: _sum(last, n, "mailbox")  # noqa: E731
    mail_in = {
        "fetched": rate_series(scrapes, "postroom_messages_fetched_total")[""],
        "opened a request": rate_series(scrapes, "postroom_messages_opened_total")[""],
        "joined a request": rate_series(scrapes, "postroom_messages_threaded_total")[""],
    }
    latency = {
        "p50": quantile_series(scrapes, "postroom_delivery_to_request_seconds", 0.5),
        "p99": quantile_series(scrapes, "postroom_delivery_to_request_seconds", 0.99),
    }
    panels = [
        ("Mail in: fetched, opened, joined a request (per minute)", line_chart(mail_in, ""), 2),
        (
            "Held, by reason (per minute)",
            line_chart(rate_series(scrapes, "postroom_messages_held_total", "reason"), ""),
            2,
        ),
        ("Delivery → request latency", line_chart(latency, "s"), 2),
        (
            "Fetch runs by outcome (per minute)",
            line_chart(rate_series(scrapes, "postroom_fetch_runs_total", "outcome"), ""),
            2,
        ),
        ("Mailboxes by state", bars(_sum(last, "postroom_mailboxes", "state")), 1),
        (
            "IMAP IDLE connections held",
            f"<p class=stat>{_sum(last, 'postroom_idle_connections')['']:.0f}</p>",
            1,
        ),
        ("Outbox items by state", bars(_sum(last, "postroom_outbox_items", "state")), 1),
        (
            "Webhook deliveries by state",
            bars(_sum(last, "postroom_webhook_deliveries", "state")),
            1,
        ),
        (
            "Send attempts by outcome (per minute)",
            line_chart(rate_series(scrapes, "postroom_send_attempts_total", "outcome"), ""),
            2,
        ),
        ("Held now, by reason", bars(_sum(last, "postroom_held_messages", "reason")), 1),
        (
            "Seconds since last success",
            table(per_mailbox("postroom_mailbox_seconds_since_success"), "mailbox", " s"),
            1,
        ),
        ("HTTP requests by route and status (per minute)", line_chart(_http(scrapes), ""), 2),
        (
            "Gaps: emails on the server never stored",
            table(per_mailbox("postroom_mailbox_gap_messages"), "mailbox"),
            1,
        ),
    ]
    cells = "".join(
        f'<section class="panel span{span}"><h2>{html.escape(title)}</h2>{body}</section>'
        for title, body, span in panels
    )
    minutes = scrapes[-1][0] / 60
    return f"""<!doctype html><html><head><meta charset=utf-8><style>
body {{ background:#111217; color:#ccccdc; font:13px/1.3 Inter, Helvetica, Arial, sans-serif;
       margin:0; padding:14px; width:1240px; }}
header {{ font-size:17px; margin:0 0 10px 2px; color:#fff; }}
header small {{ color:#8e8e9e; font-size:12px; margin-left:10px; }}
.grid-wrap {{ display:grid; grid-template-columns:repeat(4, 1fr); gap:8px; }}
.panel {{ background:#181b1f; border:1px solid #2c3235; border-radius:3px; padding:8px 10px; }}
.span1 {{ grid-column:span 1; }} .span2 {{ grid-column:span 2; }}
h2 {{ font-size:13px; font-weight:500; margin:0 0 6px; color:#d8d9da; }}
svg polyline {{ fill:none; stroke-width:1.8; }} .grid {{ stroke:#2c3235; }}
.axis {{ fill:#8e8e9e; font-size:9px; }} .legend {{ font-size:11px; color:#ccccdc; }}
.bar {{ display:flex; align-items:center; margin:4px 0; }}
.bar .name {{ width:110px; color:#ccccdc; }} .bar .fill {{ height:14px; background:#5794f2; }}
.bar .value {{ margin-left:6px; color:#fff; }}
.stat {{ font-size:52px; color:#73bf69; margin:22px 0; text-align:center; }}
table {{ width:100%; border-collapse:collapse; }} td {{ border-bottom:1px solid #2c3235;
       padding:3px 2px; }} td:last-child {{ text-align:right; color:#fff; }}
.empty {{ color:#6e6e7e; }}
</style></head><body><header>postroom — dashboard preview
<small>drawn from {len(scrapes)} scrapes of /metrics over {minutes:.1f} min of real traffic;
the panels and queries of deploy/grafana/postroom.json, not Grafana itself</small></header>
<div class=grid-wrap>{cells}</div></body></html>"""


def _http(scrapes: list[Scrape]) -> dict[str, list[tuple[float, float]]]:
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    window = 5
    for i in range(window, len(scrapes)):
        (t0, a), (t1, b) = scrapes[i - window], scrapes[i]

        def keyed(samples: list[Sample]) -> dict[str, float]:
            out: dict[str, float] = defaultdict(float)
            for n, labels, value in samples:
                if n == "postroom_http_requests_total":
                    out[f"{labels['route']} {labels['status']}"] += value
            return out

        before, after = keyed(a), keyed(b)
        for key in after:
            series[key].append((t1, (after[key] - before.get(key, 0.0)) / (t1 - t0) * 60))
    return series


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots/dashboard.png"))
    args = parser.parse_args()
    scrapes = run_traffic(args.seconds, args.out.parent)
    page = render(scrapes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".html").write_text(page)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        tab = browser.new_page(viewport={"width": 1270, "height": 900})
        tab.set_content(page)
        tab.screenshot(path=str(args.out), full_page=True)
        browser.close()
    print(f"{args.out}: {len(scrapes)} scrapes")


if __name__ == "__main__":
    main()
