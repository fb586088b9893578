"""`postroom serve` (what `make run` starts) answers on its port with health and the console."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from postroom.services import auth
from tests.api.conftest import make_user
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


def test_serve_believes_no_forwarded_header_from_loopback(postroom_env: Path) -> None:
    """uvicorn on its own trusts X-Forwarded-For from 127.0.0.1; `serve` must not, or a locked
    out account signs in again with a made-up address."""
    make_user("ann@example.test")
    port = free_port()
    env = os.environ | {"POSTROOM_DATA_DIR": str(postroom_env)}
    env.pop("POSTROOM_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "postroom", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if b"Uvicorn running on" in line:
                break
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as browser:
            found = re.search(r'name="csrf" value="([^"]+)"', browser.get("/sign-in").text)
            assert found is not None
            form = {"email": "ann@example.test", "csrf": found.group(1)}
            for _ in range(auth.MAX_FAILURES):
                wrong = browser.post("/sign-in", data=form | {"password": "wrong"})
                assert wrong.status_code == 401
            forwarded = browser.post(
                "/sign-in",
                data=form | {"password": "password-1"},
                headers={"X-Forwarded-For": "10.9.9.9"},
            )
            assert forwarded.status_code == 429
    finally:
        server.terminate()
        server.wait(timeout=30)
