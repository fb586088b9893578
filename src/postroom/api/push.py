"""Where providers notify postroom: /push/graph (Graph change notifications, with their
validation handshake) and /push/gmail (Cloud Pub/Sub push for Gmail's users.watch).

No session or API token: Graph proves itself with the subscription's clientState, Google with
a signed OIDC token (services/push.py checks both). A genuine notification only wakes the
mailbox; what arrived is read from the provider with the mailbox's own credentials.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from postroom.errors import InvalidInput, PermissionDenied
from postroom.services import push
from postroom.storage.db import default_engine

router = APIRouter(prefix="/push", tags=["push"], include_in_schema=False)

MAX_BODY = 1024 * 1024  # a notification is small; anything larger is not one
MAX_TOKEN = 2048  # Graph's validation tokens are a sentence and a few hex digits


def _wake(request: Request) -> push.Wake:
    """The in-process scheduler's fetch_now (serve); a separate worker reads the database."""
    scheduler = getattr(request.app.state, "scheduler", None)
    return scheduler.fetch_now if scheduler is not None else (lambda _: None)


async def _json(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise InvalidInput("A notification is at most 1 MB.")
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise InvalidInput("The notification is not JSON.") from exc


@router.post(push.GRAPH_PATH.removeprefix("/push"))
async def graph_notification(request: Request) -> Response:
    token = request.query_params.get("validationToken")
    if token is not None:  # the handshake: echo the token as text/plain within 10 s
        if len(token) > MAX_TOKEN:
            raise InvalidInput("A validation token is short.")
        return PlainTextResponse(token, headers={"X-Content-Type-Options": "nosniff"})
    body = await _json(request)
    notes = body.get("value") if isinstance(body, dict) else None
    if not isinstance(notes, list):
        raise InvalidInput("A Graph notification carries a list under 'value'.")
    genuine = await run_in_threadpool(push.graph_notified, default_engine(), notes, _wake(request))
    if notes and not genuine:
        raise PermissionDenied("No notification had a known subscription and clientState.")
    return Response(status_code=202)


@router.post(push.GMAIL_PATH.removeprefix("/push"))
async def gmail_notification(request: Request) -> Response:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    body = await _json(request)
    try:
        data = json.loads(base64.b64decode(body["message"]["data"]))
        email = str(data["emailAddress"])
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise InvalidInput("Not a Gmail push: message.data names no emailAddress.") from exc
    await run_in_threadpool(push.gmail_notified, default_engine(), token, email, _wake(request))
    return Response(status_code=204)
