"""The web application: the REST API under /api/v1, the console, and /health. With
`workers=True` it also runs the fetch scheduler, so one process serves a small office."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from postroom.api import metrics, oauth, problems, push
from postroom.api.edge import Edge
from postroom.api.http_metrics import HttpMetrics
from postroom.api.network_calls import NetworkCalls
from postroom.api.v1 import router as api_v1
from postroom.storage.db import default_engine
from postroom.web import views
from postroom.web.render import HERE
from postroom.workers.scheduler import Scheduler


def create_app(workers: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(running: FastAPI) -> AsyncIterator[None]:
        scheduler = Scheduler(default_engine()) if workers else None
        running.state.scheduler = scheduler  # push notifications call its fetch_now
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()

    app = FastAPI(
        title="postroom",
        summary="Mail servers, mailboxes, and the mail that becomes work.",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.network_calls = NetworkCalls()
    app.add_middleware(Edge)
    problems.install(app)
    app.include_router(oauth.router)
    app.include_router(push.router)

    @app.get("/health", tags=["audit and health"])
    def health() -> dict[str, str]:
        """Liveness for load balancers: the process answers and the database too."""
        with default_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}

    app.include_router(api_v1)
    app.include_router(metrics.router)
    app.include_router(metrics.tokens)
    for router in views.routers():
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(HttpMetrics)
    return app
