"""GET /metrics for Prometheus, and the metrics tokens administrators make for it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from postroom.api.token_routes import token_routes
from postroom.config import get_settings
from postroom.metrics import exposition
from postroom.services import metrics_tokens
from postroom.storage.db import default_engine, unit_of_work

router = APIRouter(tags=["metrics"])


def _authorize(bearer: str | None) -> None:
    with unit_of_work() as db:
        metrics_tokens.authorize(db, bearer, get_settings().metrics_public)


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """The Prometheus text format; a metrics token or an administrator's API token."""
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
    await run_in_threadpool(_authorize, bearer)
    body = await run_in_threadpool(exposition.render, default_engine())
    return Response(body, media_type=exposition.CONTENT_TYPE)


tokens = token_routes("/api/v1/metrics-tokens", "metrics", metrics_tokens.KIND)
