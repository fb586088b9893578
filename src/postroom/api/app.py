"""The web application: a health endpoint and a placeholder page until the console lands."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from sqlalchemy import text

from postroom.storage.db import default_engine

PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>postroom</title></head>
<body><h1>postroom</h1><p>postroom is running. The console arrives with the console issue;
until then use the <code>postroom</code> command.</p>
<p><a href="/health">health</a></p></body></html>
"""


def create_app() -> FastAPI:
    app = FastAPI(title="postroom", openapi_url="/api/openapi.json")

    @app.get("/health")
    def health() -> dict[str, str]:
        with default_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return PLACEHOLDER

    return app
