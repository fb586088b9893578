"""Sign-in, sign-out, and the first-run page that makes the first administrator."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from postroom.api.deps import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    SIGN_IN_TOKEN_LIFETIME,
    CallerDep,
    Db,
    cookie_for,
    current_session,
    session_id_in,
    sign_in_token,
    sign_in_token_ok,
)
from postroom.api.edge import client_address
from postroom.errors import NotSignedIn, RateLimited
from postroom.services import auth, first_run, users
from postroom.storage.db import default_engine
from postroom.web.render import attempt, redirect, render

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]


def safe_next(target: str | None) -> str:
    """Only a path on this site, so a link cannot send a person elsewhere after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


STALE_FORM = "The form's security token is missing or stale: reload the page and try again."


def sign_in_form(request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A sign-in or first-run page carrying its pre-session CSRF token (and the cookie that
    holds its twin, the first time)."""
    token, cookie = sign_in_token(request)
    response = render(request, name, None, status=status, csrf=token, **context)
    if cookie is not None:
        response.set_cookie(
            SIGN_IN_COOKIE,
            cookie,
            max_age=SIGN_IN_TOKEN_LIFETIME,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


def signed_in(request: Request, signed: auth.SignedIn, target: str) -> RedirectResponse:
    response = redirect(safe_next(target))
    response.delete_cookie(SIGN_IN_COOKIE)
    response.set_cookie(
        SESSION_COOKIE,
        cookie_for(signed.session_id),
        max_age=int(auth.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, db: Db, next: str = "/") -> Response:
    if current_session(request, db) is not None:
        return redirect(safe_next(next))
    first_run = users.needs_first_admin(db)
    return sign_in_form(request, "sign_in.html", next=safe_next(next), first_run=first_run)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request, email: Field, password: Field, next: Field = "/", csrf: Field = ""
) -> Response:
    if not sign_in_token_ok(request, csrf):
        return sign_in_form(
            request,
            "sign_in.html",
            status=403,
            errors={"_form": STALE_FORM},
            values={"email": email},
            next=safe_next(next),
        )
    try:
        signed = auth.sign_in(default_engine(), email, password, client_address(request))
    except (NotSignedIn, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 401
        return sign_in_form(
            request,
            "sign_in.html",
            status=status,
            errors={"_form": str(exc)},
            values={"email": email},
            next=safe_next(next),
        )
    if signed.must_change_password:
        return signed_in(request, signed, "/password?next=" + quote(safe_next(next)))
    return signed_in(request, signed, next)


@router.post("/sign-out")
def sign_out(request: Request, db: Db, caller: CallerDep) -> Response:
    plain = session_id_in(request.cookies.get(SESSION_COOKIE))
    if plain:
        auth.sign_out(db, plain)
    response = redirect("/sign-in")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/first-run", response_class=HTMLResponse)
def first_run_page(request: Request, db: Db, token: str = "") -> Response:
    first_run.check(db, token)
    return sign_in_form(request, "first_run.html", token=token)


@router.post("/first-run", response_class=HTMLResponse)
def first_run_form(
    request: Request, email: Field, password: Field, token: Field = "", csrf: Field = ""
) -> Response:
    if not sign_in_token_ok(request, csrf):
        return sign_in_form(
            request,
            "first_run.html",
            status=403,
            errors={"_form": STALE_FORM},
            values={"email": email},
            token=token,
        )
    made = attempt(
        lambda tx: first_run.make_admin(tx, token, email, password), ["email", "password"]
    )
    if not made.ok:
        return sign_in_form(
            request,
            "first_run.html",
            status=422,
            errors=made.errors,
            values={"email": email},
            token=token,
        )
    signed = auth.sign_in(default_engine(), email, password, client_address(request))
    return signed_in(request, signed, "/settings/servers")
