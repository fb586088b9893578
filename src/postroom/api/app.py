"""The web application: a health endpoint and a placeholder page until the console lands.
With `workers=True` it also runs the fetch scheduler, so one process serves a small office."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy import text

from postroom.api import oauth
from postroom.storage.db import default_engine
from postroom.workers.scheduler import Scheduler

PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>postroom</title></head>
<body><h1>postroom</h1><p>postroom is running. The console arrives with the console issue;
until then use the <code>postroom</code> command.</p>
<p><a href="/health">health</a></p></body></html>
"""


def create_app(workers: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        scheduler = Scheduler(default_engine()) if workers else None
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.stop()

    app = FastAPI(title="postroom", openapi_url="/api/openapi.json", lifespan=lifespan)
    app.include_router(oauth.router)

    @app.get("/health")
    def health() -> dict[str, str]:
        with default_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return PLACEHOLDER

    return app
