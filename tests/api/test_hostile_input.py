"""Input no client should send: 30-digit numbers anywhere (path, query, body) and bodies larger
than any attachment. Every operation answers 4xx problem+json (the console: a 4xx page); a body
over the limit is refused from its Content-Length, before it is read, and an unknown caller
may not send more than a small form."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from postroom.config import get_settings
from tests.api.conftest import PROBLEM, Api
from tests.api.test_sign_in import sign_in

HUGE = 10**30
NETWORK = ("/test", "/test-email", "/reconnect")


def operations(client: httpx.Client) -> list[tuple[str, str, dict[str, Any]]]:
    document = client.get("/api/openapi.json").json()
    found = []
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            if path.startswith("/api/v1") and not path.endswith(NETWORK):
                found.append((method.upper(), path, op | {"components": document["components"]}))
    return found


def _schema(op: dict[str, Any]) -> dict[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    schema: dict[str, Any] = content["schema"]
    for option in schema.get("anyOf", [schema]):
        if "$ref" in option:
            name = option["$ref"].rsplit("/", 1)[1]
            found: dict[str, Any] = op["components"]["schemas"][name]
            return found
    return schema


def _value(prop: dict[str, Any]) -> Any:
    kinds = {prop.get("type")} | {o.get("type") for o in prop.get("anyOf", [])}
    if "integer" in kinds or "number" in kinds:
        return HUGE
    if "array" in kinds:
        return [str(HUGE)]
    if "boolean" in kinds:
        return True
    return str(HUGE)


def huge_request(method: str, path: str, op: dict[str, Any]) -> dict[str, Any]:
    """Every path and query parameter a 30-digit number; every body field too."""
    url = path
    params = {}
    for param in op.get("parameters", []):
        if param["in"] == "path":
            url = url.replace("{" + param["name"] + "}", str(HUGE))
        elif param["in"] == "query":
            params[param["name"]] = str(HUGE)
    request: dict[str, Any] = {"params": params, "url": url}
    schema = _schema(op)
    if schema is not None:
        request["json"] = {k: _value(v) for k, v in schema.get("properties", {}).items()}
    return request


def test_no_operation_fails_on_huge_numbers(admin: Api) -> None:
    walked = operations(admin.client)
    assert len(walked) > 40
    for method, path, op in walked:
        request = huge_request(method, path, op)
        answer = admin.client.request(
            method,
            request.pop("url"),
            headers={"Authorization": f"Bearer {admin.token}"},
            **request,
        )
        assert answer.status_code < 500, (method, path, answer.status_code, answer.text)
        if answer.status_code >= 400:  # a name made of digits may be fine; a number never is
            assert answer.headers["content-type"] == PROBLEM, (method, path)


def test_a_queued_email_naming_a_missing_or_huge_request_is_refused(admin: Api) -> None:
    smtp = {"name": "out", "protocol": "smtp", "host": "127.0.0.1", "security": "none"}
    assert admin.post("/servers", json=smtp).status_code == 201
    desk = {"address": "desk@example.test", "system": True, "outgoing": "out", "password": "pw"}
    assert admin.post("/mailboxes", json=desk).status_code == 201
    email = {"sender": "desk@example.test", "to": ["ann@example.org"], "subject": "s", "body": "b"}
    for request in (999999, HUGE):
        answer = admin.post("/outbox", json=email | {"request": request})
        assert 400 <= answer.status_code < 500, answer.text
        assert answer.headers["content-type"] == PROBLEM
    assert admin.get("/outbox").json()["items"] == []


def test_every_body_over_the_limit_is_refused_before_it_is_read(admin: Api) -> None:
    declared = str(get_settings().max_body_size + 1)
    for method, path, op in operations(admin.client):
        if _schema(op) is None:
            continue
        url = huge_request(method, path, op)["url"]
        answer = admin.client.request(
            method,
            url,
            content=b"{}",  # the body is tiny: only a server that believes the header refuses
            headers={"Authorization": f"Bearer {admin.token}", "Content-Length": declared},
        )
        assert answer.status_code == 413, (method, path, answer.text)
        assert answer.headers["content-type"] == PROBLEM


def test_an_unknown_caller_is_refused_before_a_large_body_is_read(client: TestClient) -> None:
    declared = str(get_settings().max_anonymous_body_size + 1)
    for headers in ({}, {"Authorization": "Bearer pr_not-a-token"}):
        answer = client.post(
            "/api/v1/outbox", content=b"{}", headers=headers | {"Content-Length": declared}
        )
        assert answer.status_code == 401 and answer.headers["content-type"] == PROBLEM
    form = client.post("/sign-in", content=b"x", headers={"Content-Length": declared})
    assert form.status_code == 401
    chunked = client.post("/api/v1/outbox", content=iter([b"{}"]))
    assert chunked.status_code == 411


def test_a_large_attachment_sized_body_from_a_known_caller_is_read(admin: Api) -> None:
    big = {"name": "x" * (2 * 1024 * 1024), "steps": ["New"]}  # 2 MB: more than a form
    answer = admin.post("/workflows", json=big)
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "path", ["/requests/" + "9" * 30, "/inbox/" + "9" * 30, "/audit?offset=" + "9" * 30]
)
def test_the_console_answers_huge_numbers_with_a_page(
    client: TestClient, admin: Api, path: str
) -> None:
    sign_in(client, admin.email)
    answer = client.get(path)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("text/html")
