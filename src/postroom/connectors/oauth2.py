"""OAuth2 with the identity providers: authorization code with PKCE (authlib), refresh,
client credentials, and the device authorization grant (RFC 8628, which authlib's client does
not offer, so it is a few plain httpx calls). Speaks the protocol only: no database here.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import authlib.deprecate
import httpx
from authlib.common.errors import AuthlibBaseError

from postroom.connectors.tls import client_context
from postroom.errors import AuthFailed, NeedsReconnect, Transient, Unreachable

# authlib now prefers the httpx2 fork and warns, on every command, about httpx, the client
# DESIGN.md chose and this code uses; its own filter (installed above) says "always".
with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", "The httpx module is deprecated", authlib.deprecate.AuthlibDeprecationWarning
    )
    from authlib.integrations.httpx_client import OAuth2Client

log = logging.getLogger(__name__)

TIMEOUT = 30.0
SLOW_DOWN_STEP = 5  # RFC 8628 3.5: add five seconds to the interval on slow_down


@dataclass(frozen=True)
class ProviderUrls:
    authorize: str
    token: str
    device: str | None


@dataclass(frozen=True)
class ClientConfig:
    urls: ProviderUrls
    client_id: str
    client_secret: str | None = field(repr=False)
    scope: str


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    account: str | None  # from the id_token; None for app-only tokens

    def as_json(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at.timestamp(),
            }
        )


@dataclass(frozen=True)
class DeviceCode:
    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    message: str
    interval: int
    expires_at: float


def _account(id_token: str | None) -> str | None:
    """The signed-in address from an id_token received straight from the token endpoint over
    TLS; OIDC Core 3.1.3.7 lets that channel stand in for checking the signature."""
    if not id_token or id_token.count(".") != 2:
        return None
    payload = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    value = claims.get("email") or claims.get("preferred_username") or claims.get("upn")
    return str(value).strip().lower() if value else None


def token_set(answer: dict[str, Any], previous_refresh: str | None = None) -> TokenSet:
    """A provider that does not rotate sends no refresh_token: the old one stays valid."""
    lifetime = int(answer.get("expires_in") or 3600)
    return TokenSet(
        access_token=str(answer["access_token"]),
        refresh_token=answer.get("refresh_token") or previous_refresh,
        expires_at=datetime.now(UTC) + timedelta(seconds=lifetime),
        account=_account(answer.get("id_token")),
    )


class OAuthClient:
    def __init__(self, config: ClientConfig, redirect_uri: str | None = None) -> None:
        self.config = config
        self.session = self.connect(config, redirect_uri)

    @staticmethod
    def connect(config: ClientConfig, redirect_uri: str | None) -> OAuth2Client:
        """The one place the HTTP client is made."""
        return OAuth2Client(
            client_id=config.client_id,
            client_secret=config.client_secret,
            token_endpoint_auth_method="client_secret_post" if config.client_secret else "none",
            scope=config.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            verify=client_context(True),
            timeout=TIMEOUT,
        )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> OAuthClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, what: str, request: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return request()
        except AuthlibBaseError as exc:
            detail = f"{exc.error}: {exc.description or ''}".strip(": ")
            if exc.error in ("invalid_grant", "interaction_required", "consent_required"):
                raise NeedsReconnect(f"The provider refused the {what} ({detail}).") from exc
            raise AuthFailed(f"The provider refused the {what} ({detail}).") from exc
        except httpx.HTTPStatusError as exc:
            raise Transient(f"The token endpoint answered {exc.response.status_code}.") from exc
        except httpx.HTTPError as exc:
            raise Unreachable(f"The token endpoint could not be reached: {exc}") from exc

    def authorization_url(self, state: str, verifier: str, extra: dict[str, str]) -> str:
        url, _ = self.session.create_authorization_url(
            self.config.urls.authorize, state=state, code_verifier=verifier, **extra
        )
        return str(url)

    def exchange_code(self, code: str, verifier: str) -> TokenSet:
        answer = self._call(
            "sign-in code",
            lambda: self.session.fetch_token(
                self.config.urls.token,
                grant_type="authorization_code",
                code=code,
                code_verifier=verifier,
            ),
        )
        return token_set(answer)

    def refresh(self, refresh_token: str) -> TokenSet:
        answer = self._call(
            "refresh token",
            lambda: self.session.refresh_token(self.config.urls.token, refresh_token=refresh_token),
        )
        return token_set(answer, refresh_token)

    def client_credentials(self) -> TokenSet:
        answer = self._call(
            "app-only sign-in",
            lambda: self.session.fetch_token(
                self.config.urls.token, grant_type="client_credentials"
            ),
        )
        return token_set(answer)

    def start_device(self) -> DeviceCode:
        if not self.config.urls.device:
            raise AuthFailed("This OAuth app has no device sign-in; use the console instead.")
        answer = self._post(
            self.config.urls.device,
            {"client_id": self.config.client_id, "scope": self.config.scope},
        )
        if "device_code" not in answer:
            raise AuthFailed(f"The provider refused the device sign-in: {answer.get('error')}.")
        uri = answer.get("verification_uri") or answer.get("verification_url") or ""
        return DeviceCode(
            device_code=answer["device_code"],
            user_code=answer["user_code"],
            verification_uri=uri,
            message=answer.get("message")
            or f"Open {uri} and enter the code {answer['user_code']}.",
            interval=int(answer.get("interval", 5)),
            expires_at=time.monotonic() + int(answer.get("expires_in", 900)),
        )

    def _post(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        try:
            response = self.session.request("POST", url, data=form, withhold_token=True)
        except httpx.HTTPError as exc:
            raise Unreachable(f"{url} could not be reached: {exc}") from exc
        if response.status_code >= 500:
            raise Transient(f"{url} answered {response.status_code}.")
        try:
            answer = response.json()
        except ValueError:
            raise Transient(f"{url} answered {response.status_code} without JSON.") from None
        if not isinstance(answer, dict):
            raise Transient(f"{url} answered with something other than a JSON object.")
        return answer

    def wait_for_device(
        self, device: DeviceCode, sleep: Callable[[float], None] = time.sleep
    ) -> TokenSet:
        """Poll the token endpoint at the provider's interval until the person signed in."""
        interval = device.interval
        form = {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": device.device_code,
            "client_id": self.config.client_id,
        }
        if self.config.client_secret:
            form["client_secret"] = self.config.client_secret
        while True:
            if time.monotonic() >= device.expires_at:
                raise AuthFailed("The sign-in code expired before it was used: start again.")
            answer = self._post(self.config.urls.token, form)
            error = answer.get("error")
            if error is None:
                return token_set(answer)
            if error == "authorization_pending":
                pass
            elif error == "slow_down":
                interval += SLOW_DOWN_STEP
            elif error == "expired_token":
                raise AuthFailed("The sign-in code expired before it was used: start again.")
            else:
                detail = answer.get("error_description") or error
                raise AuthFailed(f"The sign-in was refused: {detail}")
            sleep(interval)
