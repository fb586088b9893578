"""Sign-in: sessions in the database behind a signed cookie, CSRF on unsafe requests, a limit
on guessing that holds across processes, API tokens, and the first-run page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from postroom.api.app import create_app
from postroom.api.deps import SESSION_COOKIE, SIGN_IN_COOKIE
from postroom.services import auth, first_run
from postroom.storage.db import unit_of_work
from postroom.storage.models import ApiToken, User, WebSession
from tests.api.conftest import Api, make_user

LOCAL = ("127.0.0.1", 50000)


def form_token(client: TestClient, path: str = "/sign-in") -> str:
    """The CSRF token of the form at `path`, as a browser gets it by opening the page."""
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = "password-1") -> str:
    """Signs in and returns the page's CSRF token."""
    answer = client.post(
        "/sign-in", data={"email": email, "password": password, "csrf": form_token(client)}
    )
    assert answer.status_code == 200, answer.text
    found = re.search(r'name="csrf" value="([^"]+)"', answer.text)
    assert found is not None
    return found.group(1)


def test_the_session_cookie_is_signed_httponly_lax_and_its_id_is_stored_only_hashed(
    client: TestClient,
) -> None:
    make_user("ann@example.test")
    answer = client.post(
        "/sign-in",
        data={"email": "ann@example.test", "password": "password-1", "csrf": form_token(client)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    value = client.cookies[SESSION_COOKIE]
    session_id = value.split(".")[0]
    with unit_of_work() as db:
        stored = db.scalars(select(WebSession)).one()
    assert stored.token_hash not in value and session_id not in stored.token_hash
    client.cookies.set(SESSION_COOKIE, value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert client.get("/", follow_redirects=False).status_code == 303  # tampered: signed out


def test_an_unsafe_console_request_needs_the_session_csrf_token(client: TestClient) -> None:
    make_user("admin@example.test", admin=True)
    csrf = sign_in(client, "admin@example.test")
    form = {"name": "Support", "steps": "New,Done"}
    refused = client.post("/workflows", data=form)
    assert refused.status_code == 403 and "security token" in refused.text
    assert client.post("/workflows", data=form | {"csrf": "forged"}).status_code == 403
    made = client.post("/workflows", data=form | {"csrf": csrf})
    assert made.status_code == 200 and "The workflow was added" in made.text
    by_header = client.post(
        "/api/v1/workflows",
        json={"name": "Sales", "steps": ["New"]},
        headers={"X-CSRF-Token": csrf},
    )
    assert by_header.status_code == 201


def test_signing_out_ends_the_session_on_the_server(client: TestClient) -> None:
    make_user("ann@example.test")
    csrf = sign_in(client, "ann@example.test")
    cookie = client.cookies[SESSION_COOKIE]
    client.post("/sign-out", data={"csrf": csrf})
    client.cookies.set(SESSION_COOKIE, cookie)  # a copy kept from before does not work
    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.usefixtures("database_url")
def test_failed_sign_ins_are_limited_per_account_and_address_across_processes(
    postroom_env: Path,
) -> None:
    make_user("ann@example.test")
    first, second = create_app(workers=False), create_app(workers=False)  # two workers
    with TestClient(first) as one, TestClient(second) as two:
        tokens = {one: form_token(one), two: form_token(two)}
        for attempt in range(auth.MAX_FAILURES):
            worker = one if attempt % 2 else two
            wrong = worker.post(
                "/sign-in",
                data={"email": "ann@example.test", "password": "no", "csrf": tokens[worker]},
            )
            assert wrong.status_code == 401
            assert "email address or the password is wrong" in wrong.text
        right = {"email": "ann@example.test", "password": "password-1"}
        limited = one.post("/sign-in", data=right | {"csrf": tokens[one]})
        assert limited.status_code == 429 and "wait 15 minutes" in limited.text
    with TestClient(first, client=LOCAL) as elsewhere:  # another address is not held back
        right |= {"csrf": form_token(elsewhere)}
        assert elsewhere.post("/sign-in", data=right, follow_redirects=False).status_code == 303


def test_an_unknown_account_is_refused_like_a_wrong_password(client: TestClient) -> None:
    make_user("ann@example.test")
    csrf = form_token(client)
    unknown = client.post(
        "/sign-in", data={"email": "zed@example.test", "password": "x", "csrf": csrf}
    )
    wrong = client.post(
        "/sign-in", data={"email": "ann@example.test", "password": "x", "csrf": csrf}
    )
    assert unknown.status_code == wrong.status_code == 401
    assert "email address or the password is wrong" in unknown.text


def test_an_api_token_is_shown_once_stored_hashed_and_revocable(client: TestClient) -> None:
    ann = Api(client, "ann@example.test", make_user("ann@example.test"))
    made = ann.post("/me/tokens", json={"name": "billing"})
    assert made.status_code == 201
    token = made.json()["token"]
    billing = Api(client, ann.email, token)
    assert billing.get("/me").json()["email"] == "ann@example.test"
    assert all("token" not in row for row in ann.get("/me/tokens").json()["items"])
    with unit_of_work() as db:
        hashes = [t.token_hash for t in db.scalars(select(ApiToken))]
    assert token not in hashes and auth.token_hash(token) in hashes
    assert ann.call("DELETE", f"/me/tokens/{made.json()['id']}").json()["revoked"] is True
    refused = billing.get("/me")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["www-authenticate"] == "Bearer"


def test_no_one_can_revoke_another_users_token(client: TestClient) -> None:
    ann = Api(client, "ann@example.test", make_user("ann@example.test"))
    bob = Api(client, "bob@example.test", make_user("bob@example.test"))
    ann_token = ann.get("/me/tokens").json()["items"][0]["id"]
    assert bob.call("DELETE", f"/me/tokens/{ann_token}").status_code == 404
    assert ann.get("/me").status_code == 200


def test_first_run_answers_only_to_the_setup_link_until_an_admin_exists(app: FastAPI) -> None:
    link = f"/first-run?token={first_run.token()}"
    with TestClient(app, client=LOCAL) as local:
        assert local.get("/first-run").status_code == 404  # loopback alone is not enough
        assert local.get("/first-run?token=guess").status_code == 404
        assert "postroom first-run-link" in local.get("/sign-in").text
        csrf = form_token(local, link)
        form = {"email": "root@example.test", "token": first_run.token()}
        forged = local.post("/first-run", data=form | {"password": "12345678"})
        assert forged.status_code == 403 and "security token" in forged.text
        short = local.post("/first-run", data=form | {"password": "x", "csrf": csrf})
        assert short.status_code == 422 and "shorter than 8 characters" in short.text
        no_token = local.post(
            "/first-run", data=form | {"token": "", "password": "long-enough", "csrf": csrf}
        )
        assert no_token.status_code == 422
        made = local.post("/first-run", data=form | {"password": "long-enough", "csrf": csrf})
        assert made.status_code == 200 and "Mail settings: servers" in made.text  # signed in
        assert local.get(link).status_code == 404
    with TestClient(app) as other:
        csrf = form_token(other)
        again = other.post(
            "/first-run",
            data={"email": "eve@example.test", "password": "12345678", "csrf": csrf}
            | {"token": first_run.token()},
        )
        assert again.status_code == 422 and "already exists" in again.text
    with unit_of_work() as db:
        assert [u.email for u in db.scalars(select(User))] == ["root@example.test"]


def test_a_cross_site_sign_in_without_the_forms_token_is_refused(client: TestClient) -> None:
    """Login CSRF: another site's page could post its own account's password to sign a victim
    in as the attacker; without the token bound to the browser's cookie it gets nowhere."""
    make_user("eve@example.test")
    credentials = {"email": "eve@example.test", "password": "password-1"}
    bare = client.post("/sign-in", data=credentials, follow_redirects=False)
    assert bare.status_code == 403 and "security token" in bare.text
    assert SESSION_COOKIE not in client.cookies
    token = form_token(client)
    with TestClient(client.app) as victim:  # the attacker's token, but the victim's cookies
        borrowed = victim.post("/sign-in", data=credentials | {"csrf": token})
        assert borrowed.status_code == 403 and SESSION_COOKIE not in victim.cookies
    cookie = client.cookies[SIGN_IN_COOKIE]
    client.cookies.clear()
    client.cookies.set(SIGN_IN_COOKIE, cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB"))
    assert client.post("/sign-in", data=credentials | {"csrf": token}).status_code == 403
    client.cookies.clear()
    signed = client.post(
        "/sign-in", data=credentials | {"csrf": form_token(client)}, follow_redirects=False
    )
    assert signed.status_code == 303 and SESSION_COOKIE in client.cookies
