"""Wake a mailbox at once when this process runs the scheduler (`postroom serve`); a separate
worker process sees the cleared next poll the service wrote, at its next heartbeat."""

from __future__ import annotations

from fastapi import Request


def fetch_now(request: Request, mailbox_id: int) -> None:
    scheduler = getattr(request.app.state, "scheduler", None)
    if scheduler is not None:
        scheduler.fetch_now(mailbox_id)
