"""GET /metrics for Prometheus, and the metrics tokens administrators make for it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from postroom.api.deps import CallerDep, Db
from postroom.api.pages import Id, Limit, Offset, page
from postroom.api.schemas import TokenIn
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


tokens = APIRouter(prefix="/api/v1/metrics-tokens", tags=["metrics"])


@tokens.get("")
def list_tokens(db: Db, caller: CallerDep, limit: Limit = 50, offset: Offset = 0) -> Any:
    rows = [metrics_tokens.present(t) for t in metrics_tokens.listing(db, caller.actor)]
    return page(rows, limit, offset, fetched_extra=False)


@tokens.post("", status_code=201)
def create_token(body: TokenIn, db: Db, caller: CallerDep) -> Any:
    row, token = metrics_tokens.create(db, caller.actor, body.name)
    return metrics_tokens.present(row) | {"token": token}


@tokens.delete("/{token_id}")
def revoke_token(token_id: Id, db: Db, caller: CallerDep) -> Any:
    return metrics_tokens.present(metrics_tokens.revoke(db, caller.actor, token_id))
