"""The one small HTTP adapter under the Graph and Gmail connectors: a Bearer token, the
server's TLS settings, and the answers every mail API shares: 401 (the token was refused),
429 and 503 with Retry-After (waited for, within bounds), other failures as errors a person
can read."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from postroom.connectors.tls import client_context
from postroom.domain.endpoints import Credentials, Endpoint
from postroom.errors import (
    AnswerLost,
    MailServerError,
    PostroomError,
    Throttled,
    TokenRejected,
    Transient,
    Unreachable,
)

THROTTLED = (429, 503)
MAX_RETRIES = 3  # throttled answers waited out per request before giving up for this round
MAX_WAIT = 60.0  # seconds: a longer Retry-After ends this round; the scheduler backs off
DEFAULT_WAIT = 2.0  # when a throttled answer gives no Retry-After


def base_url(endpoint: Endpoint) -> str:
    return f"https://{endpoint.host}:{endpoint.port}"


def retry_after(response: httpx.Response) -> float:
    """Seconds to wait: Retry-After is delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return DEFAULT_WAIT
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return DEFAULT_WAIT


class ApiClient:
    def __init__(
        self,
        endpoint: Endpoint,
        credentials: Credentials,
        service: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not credentials.bearer:
            raise MailServerError(f"{service} is reached with OAuth2 only: connect the mailbox.")
        self.service = service
        self.base = base_url(endpoint)
        self.sleep = sleep
        # A connector's own reading of a refusal (e.g. a delegate's missing right on a shared
        # mailbox); None: the generic error below.
        self.explain: Callable[[httpx.Response], PostroomError | None] | None = None
        self.http = self.connect(endpoint, credentials)

    @staticmethod
    def connect(endpoint: Endpoint, credentials: Credentials) -> httpx.Client:
        """The one place the HTTP client is made."""
        timeout = httpx.Timeout(endpoint.timeout, connect=endpoint.connect_timeout)
        return httpx.Client(
            verify=client_context(endpoint.verify_tls),
            timeout=timeout,
            headers={"Authorization": f"Bearer {credentials.password}"},
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        allow: tuple[int, ...] = (),
        retries: int = MAX_RETRIES,
        **kw: Any,
    ) -> httpx.Response:
        """`allow`: statuses the caller handles itself (e.g. 404 for a message already gone).
        `retries`: throttled answers waited out here; sending passes 0, so the outbox's
        limiter, not a sleeping thread, waits for the provider."""
        target = url if url.startswith("https://") else self.base + url
        for attempt in range(retries + 1):
            try:
                response = self.http.request(method, target, **kw)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise Unreachable(f"{self.service} could not be reached: {exc}") from exc
            except httpx.TransportError as exc:
                raise AnswerLost(
                    f"{self.service} did not answer: {exc or type(exc).__name__}"
                ) from exc
            if response.status_code not in THROTTLED:
                break
            wait = retry_after(response)
            if attempt == retries or wait > MAX_WAIT:
                raise Throttled(
                    f"{self.service} is throttling ({response.status_code}); "
                    f"it asked to wait {wait:.0f} s.",
                    retry_after=wait,
                )
            self.sleep(wait)
        if response.status_code == 401:
            raise TokenRejected(f"{self.service} refused the access token (401).")
        if response.is_success or response.status_code in allow:
            return response
        raise self.refusal(method, response)

    def refusal(self, method: str, response: httpx.Response) -> PostroomError:
        """The error for a failed answer, also for one a caller first allowed and inspected."""
        explained = self.explain(response) if self.explain is not None else None
        if explained is not None:
            return explained
        detail = _detail(response)
        if response.status_code >= 500:
            return Transient(f"{self.service} failed ({response.status_code}): {detail}")
        return MailServerError(
            f"{self.service} refused {method} ({response.status_code}): {detail}"
        )

    def close(self) -> None:
        self.http.close()


def _detail(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except ValueError:
        return response.text[:200]
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or error)
    return str(error)
