"""The one place a PostroomError becomes an HTTP answer: problem+json (RFC 9457) for the API,
a page for the console, and the sign-in page for a browser that is not signed in."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from psycopg.errors import NumericValueOutOfRange
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from postroom import errors

STATUS: tuple[tuple[type[errors.PostroomError], int], ...] = (
    (errors.NotFound, 404),
    (errors.InvalidInput, 422),
    (errors.Conflict, 409),
    (errors.PermissionDenied, 403),
    (errors.NotSignedIn, 401),
    (errors.RateLimited, 429),
    (errors.AuthFailed, 502),
    (errors.Unreachable, 502),
    (errors.Transient, 503),
    (errors.MailServerError, 502),
    (errors.ConfigurationError, 500),
)
PROBLEM = "application/problem+json"


def status_of(exc: errors.PostroomError) -> int:
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 400)


def problem(status: int, code: str, detail: str, **more: Any) -> JSONResponse:
    body = {
        "type": f"urn:postroom:problem:{code}",
        "title": code.replace("-", " ").capitalize(),
        "status": status,
        "detail": detail,
        **{k: v for k, v in more.items() if v is not None},
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/metrics"


def _number_too_large(request: Request) -> Response:
    detail = "A number in the request is too large: ids and counts fit in 64 bits."
    if not is_api(request):
        from postroom.web.render import error_page

        return error_page(request, 422, detail)
    return problem(422, "invalid-input", detail)


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.PostroomError)
    async def postroom_error(request: Request, exc: errors.PostroomError) -> Response:
        status = status_of(exc)
        if is_api(request):
            field = exc.field if isinstance(exc, errors.InvalidInput) else None
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            rows = None
            if isinstance(exc, errors.RowsRejected):
                rows = [{"row": row, "message": message} for row, message in exc.rows]
            answer = problem(status, exc.code, str(exc), field=field, rows=rows)
            if headers:
                answer.headers.update(headers)
            return answer
        if isinstance(exc, errors.NotSignedIn) and request.method == "GET":
            return RedirectResponse("/sign-in?next=" + request.url.path, status_code=303)
        if isinstance(exc, errors.PasswordChangeRequired) and request.method == "GET":
            return RedirectResponse("/password?next=" + request.url.path, status_code=303)
        from postroom.web.render import error_page  # the console renders its own pages

        return error_page(request, status, str(exc))

    @app.exception_handler(OverflowError)
    async def too_large(request: Request, _: OverflowError) -> Response:
        """A number no database column holds (SQLite's 64-bit integers), from a path, a query or
        a body: the client's mistake, answered like any other invalid input."""
        return _number_too_large(request)

    @app.exception_handler(DataError)
    async def out_of_range(request: Request, exc: DataError) -> Response:
        if not isinstance(exc.orig, NumericValueOutOfRange):
            raise exc
        return _number_too_large(request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """FastAPI's own refusals (an unknown path, a body that is not JSON) in the same shape."""
        if not is_api(request):
            from postroom.web.render import error_page

            return error_page(request, exc.status_code, str(exc.detail))
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "bad-request")
        return problem(exc.status_code, code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
        location = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(location) or None
        detail = f"{field}: {first.get('msg', 'invalid')}" if field else "The request is invalid."
        if not is_api(request):
            from postroom.web.render import error_page

            return error_page(request, 422, detail)
        return problem(422, "invalid-input", detail, field=field)
