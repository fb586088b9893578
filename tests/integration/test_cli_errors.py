"""The real `postroom` entry point never prints a traceback: usage errors are one line on stderr
with exit 2, every other error one line with exit 1, huge numbers included."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

POSTROOM = str(Path(sys.executable).with_name("postroom"))
HUGE = "99999999999999999999"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [POSTROOM, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ("nosuchcmd",),
        ("request", "show", "abc"),
        ("server", "add"),
        ("retention", "set", "bounce", "-1"),
        ("request", "show", HUGE),
        ("request", "reply", HUGE, "--body", "x"),
        ("request", "list", "--limit", HUGE),
        ("audit", "--limit", HUGE),
        ("outbox", "show", HUGE),
        ("outbox", "retry", HUGE),
        ("held", "reprocess", HUGE),
        ("webhook", "redeliver", HUGE),
        ("retention", "set", "bounce", HUGE),
    ],
    ids=lambda a: " ".join(a)[:40],
)
def test_a_usage_error_is_one_line_and_exit_2(postroom_env: Path, args: tuple[str, ...]) -> None:
    result = _run(*args)
    assert result.returncode == 2, result.stderr
    assert _one_line(result.stderr).startswith("Error: ")
    assert result.stdout == ""


def test_a_usage_error_with_json_is_one_json_line(postroom_env: Path) -> None:
    result = _run("request", "show", HUGE, "--json")
    assert result.returncode == 2
    assert '"error": "usage"' in _one_line(result.stderr)


def test_an_unknown_id_is_one_line_and_exit_1(postroom_env: Path) -> None:
    result = _run("request", "show", "5")
    assert result.returncode == 1
    assert _one_line(result.stderr) == "Error: No request #5: `postroom request list` shows them."


def test_an_unexpected_failure_is_one_line_and_exit_1(postroom_env: Path) -> None:
    refused = {"POSTROOM_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/postroom"}
    result = _run("request", "list", env=refused)
    assert result.returncode == 1
    assert "OperationalError" in _one_line(result.stderr)
