"""The small pure parts under the cloud connectors: Retry-After, Bcc for mail APIs, and the
signed-in account read from an id_token."""

from __future__ import annotations

import base64
import json
from email.utils import formatdate
from time import time

import httpx
import pytest

from postroom.connectors.bcc import with_bcc
from postroom.connectors.cloud_http import DEFAULT_WAIT, retry_after
from postroom.connectors.oauth2 import token_set


def _answer(value: str | None) -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": value} if value is not None else {})


def test_retry_after_is_seconds_or_an_http_date() -> None:
    assert retry_after(_answer("7")) == 7.0
    assert 25 <= retry_after(_answer(formatdate(time() + 30, usegmt=True))) <= 30
    assert retry_after(_answer(formatdate(time() - 30, usegmt=True))) == 0.0
    assert retry_after(_answer("soon")) == retry_after(_answer(None)) == DEFAULT_WAIT


def test_envelope_recipients_missing_from_the_headers_travel_as_bcc() -> None:
    raw = b"From: a@x.test\r\nTo: B <b@x.test>\r\nCc: c@x.test\r\nSubject: s\r\n\r\nbody\r\n"
    assert with_bcc(raw, ["b@x.test", "C@x.test"]) == raw
    assert with_bcc(raw, ["b@x.test", "boss@x.test"]).startswith(b"Bcc: boss@x.test\r\nFrom:")


def _id_token(claims: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.sig"


@pytest.mark.parametrize(
    ("claims", "account"),
    [
        ({"email": "Ann@Contoso.COM", "preferred_username": "x"}, "ann@contoso.com"),
        ({"preferred_username": "desk@contoso.com"}, "desk@contoso.com"),
        ({"sub": "123"}, None),
    ],
)
def test_the_signed_in_account_comes_from_the_id_token(
    claims: dict[str, object], account: str | None
) -> None:
    answer = {"access_token": "a", "expires_in": 60, "id_token": _id_token(claims)}
    assert token_set(answer).account == account


def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one() -> None:
    assert token_set({"access_token": "a"}, "old").refresh_token == "old"
    assert token_set({"access_token": "a", "refresh_token": "new"}, "old").refresh_token == "new"
