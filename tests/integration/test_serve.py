"""`postroom serve` (what `make run` starts) answers on its port with health and the console."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.servers.ports import free_port


def test_serve_migrates_the_database_and_answers_health(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {"POSTROOM_DATA_DIR": str(tmp_path / "data")}
    env.pop("POSTROOM_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "postroom", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert server.stdout is not None
        seen = []
        for line in server.stdout:  # uvicorn says when it listens; EOF means it died
            seen.append(line.decode(errors="replace"))
            if b"Uvicorn running on" in line:
                break
        else:
            raise AssertionError("postroom serve exited:\n" + "".join(seen))
        link = next(line for line in seen if "/first-run?token=" in line)  # no admin yet
        assert link.split()[-1].startswith(f"http://127.0.0.1:{port}/first-run?token=")
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "database": "ok"}
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5, follow_redirects=True)
        assert page.status_code == 200 and "Sign in to postroom" in page.text
        assert (tmp_path / "data" / "postroom.db").exists()
    finally:
        server.terminate()
        server.wait(timeout=30)
