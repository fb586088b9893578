"""A local Microsoft identity platform (v2.0 endpoints) and Google OAuth 2.0 server.

It follows the documented requests and answers: authorization code with PKCE (S256 checked),
refresh tokens (Microsoft rotates them; Google does not send a new one), client credentials
(app-only, `.default` scope), the device authorization grant (RFC 8628 polling errors),
`invalid_grant`, an id_token naming the signed-in account, and an RFC 7662 introspection
endpoint for Dovecot's oauth2 passdb (served over plain HTTP on its own port).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .certs import TestCA
from .http import HttpServer, Request, Response
from .loopback import LoopbackServer

__all__ = ["IdentityServer", "Token"]

MS = r"/(?P<tenant>[^/]+)/oauth2/v2\.0"


@dataclass
class Token:
    account: str | None  # None: an app-only token (client credentials)
    client_id: str
    scope: str
    expires_at: float


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str | None
    scope: str
    account: str


@dataclass
class _DeviceCode:
    client_id: str
    scope: str
    user_code: str
    expires_at: float
    account: str | None = None  # set once the user signed in
    polls: int = 0


@dataclass
class IdentityServer(LoopbackServer):
    """`sign_in_as` is who completes the next sign-in (the person at the browser)."""

    ca: TestCA
    sign_in_as: str = "desk@contoso.test"
    access_lifetime: int = 3600
    device_interval: int = 0
    device_pending_polls: int = 1  # answers of authorization_pending before sign-in completes
    device_slow_down_polls: int = 0
    clients: dict[str, str | None] = field(default_factory=dict)  # client id -> secret
    tokens: dict[str, Token] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    issued_refresh_tokens: list[str] = field(default_factory=list)  # rotated ones too
    refresh_calls: int = 0
    token_requests: list[dict[str, str]] = field(default_factory=list)
    refresh_gate: threading.Event | None = None  # when set, a refresh waits for it
    refresh_arrived: threading.Event = field(default_factory=threading.Event)
    grant_gate: threading.Event | None = None  # when set, a code or app-only grant waits
    grant_arrived: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, _Grant] = {}
        self._devices: dict[str, _DeviceCode] = {}
        routes = [
            ("GET", MS + "/authorize", self._authorize),
            ("GET", r"/o/oauth2/(?:v2/)?auth", self._authorize),
            ("POST", MS + "/token", self._token),
            ("POST", r"/token", self._token),
            ("POST", MS + "/devicecode", self._devicecode),
            ("POST", r"/device/code", self._devicecode),
            ("GET", r"/oauth2/v3/certs", self._jwks),
        ]
        # Google's OIDC signing key, for Cloud Pub/Sub push tokens (published as a JWKS).
        self.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.signing_kid = "push-key-" + secrets.token_hex(4)
        self.http = HttpServer(routes, tls=self.ca.server_ssl_context())
        self.introspection = HttpServer([("POST", r"/introspect", self._introspect)])

    # ------------------------------------------------------------------ control

    @property
    def base_url(self) -> str:
        return self.http.base_url

    @property
    def introspection_url(self) -> str:
        return self.introspection.base_url + "/introspect"

    def register(self, client_id: str, secret: str | None = None) -> None:
        self.clients[client_id] = secret

    def account_of(self, access_token: str | None) -> Token | None:
        """The token's grant if it is live; resource servers (Graph, Gmail) ask this."""
        with self._lock:
            token = self.tokens.get(access_token or "")
        if token is None or token.expires_at <= time.time():
            return None
        return token

    def expire_access_tokens(self) -> None:
        with self._lock:
            for token in self.tokens.values():
                token.expires_at = 0

    def revoke(self, account: str) -> None:
        """The user changed their password or an admin revoked consent: refresh gives
        invalid_grant and access tokens stop working."""
        with self._lock:
            for key in [k for k, v in self.refresh_tokens.items() if v[1] == account]:
                del self.refresh_tokens[key]
            for token in self.tokens.values():
                if token.account == account:
                    token.expires_at = 0

    def issue(self, account: str | None, client_id: str, scope: str) -> str:
        access = "at-" + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[access] = Token(
                account, client_id, scope, time.time() + self.access_lifetime
            )
        return access

    @property
    def jwks_url(self) -> str:
        return self.http.base_url + "/oauth2/v3/certs"

    def sign(self, claims: dict[str, object], key: rsa.RSAPrivateKey | None = None) -> str:
        """A compact RS256 JWT, signed with this server's published key unless another is
        given (a forger's)."""
        header: dict[str, object] = {"alg": "RS256", "typ": "JWT", "kid": self.signing_kid}
        signed = f"{_b64(header)}.{_b64(claims)}"
        signature = (key or self.signing_key).sign(
            signed.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        return signed + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()

    def push_token(self, audience: str, email: str, **changes: object) -> str:
        """What Cloud Pub/Sub sends with a push: Google's OIDC token for the service account."""
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": "https://accounts.google.com",
            "aud": audience,
            "azp": "1234567890",
            "sub": "1234567890",
            "email": email,
            "email_verified": True,
            "iat": now,
            "exp": now + 3600,
        }
        return self.sign(claims | changes)

    # ---------------------------------------------------------------- endpoints

    def _jwks(self, request: Request) -> Response:
        numbers = self.signing_key.public_key().public_numbers()

        def b64int(value: int) -> str:
            raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        key = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.signing_kid,
               "n": b64int(numbers.n), "e": b64int(numbers.e)}  # fmt: skip
        return Response.json({"keys": [key]})

    def _authorize(self, request: Request) -> Response:
        q = request.query
        if q.get("response_type") != "code" or q.get("client_id") not in self.clients:
            return Response.json({"error": "unauthorized_client"}, 400)
        if q.get("code_challenge") and q.get("code_challenge_method") != "S256":
            return Response.json({"error": "invalid_request"}, 400)
        code = "code-" + secrets.token_urlsafe(16)
        self._codes[code] = _Grant(
            q["client_id"],
            q["redirect_uri"],
            q.get("code_challenge"),
            q.get("scope", ""),
            self.sign_in_as,
        )
        sep = "&" if "?" in q["redirect_uri"] else "?"
        return Response.redirect(
            q["redirect_uri"] + sep + urlencode({"code": code, "state": q.get("state", "")})
        )

    def _client_ok(self, request: Request, form: dict[str, str]) -> str | None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if client_id not in self.clients:
            return None
        expected = self.clients[client_id]
        return client_id if expected is None or expected == secret else None

    @staticmethod
    def _error(error: str, description: str, status: int = 400) -> Response:
        return Response.json({"error": error, "error_description": description}, status)

    def _token(self, request: Request) -> Response:
        form = request.form()
        self.token_requests.append(form)
        client_id = self._client_ok(request, form)
        if client_id is None:
            return self._error("invalid_client", "AADSTS7000215: Invalid client secret.", 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._code_grant(client_id, form)
        if grant == "refresh_token":
            return self._refresh_grant(client_id, form, google=request.path == "/token")
        if grant == "client_credentials":
            self._hold_grant()
            if not form.get("scope", "").endswith("/.default"):
                return self._error("invalid_scope", "AADSTS1002012: scope must end in /.default")
            access = self.issue(None, client_id, form["scope"])
            return Response.json(
                {"token_type": "Bearer", "expires_in": self.access_lifetime, "access_token": access}
            )
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            return self._device_grant(client_id, form)
        return self._error("unsupported_grant_type", f"grant_type {grant!r}")

    def _tokens(self, account: str, client_id: str, scope: str, refresh: bool) -> dict[str, object]:
        body: dict[str, object] = {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": self.access_lifetime,
            "access_token": self.issue(account, client_id, scope),
            "id_token": _id_token(account, client_id, self.base_url),
        }
        if refresh:
            value = "rt-" + secrets.token_urlsafe(24)
            with self._lock:
                self.refresh_tokens[value] = (client_id, account, scope)
                self.issued_refresh_tokens.append(value)
            body["refresh_token"] = value
        return body

    def _hold_grant(self) -> None:
        self.grant_arrived.set()
        if self.grant_gate is not None:
            self.grant_gate.wait(timeout=30)

    def _code_grant(self, client_id: str, form: dict[str, str]) -> Response:
        self._hold_grant()
        grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or grant.client_id != client_id:
            return self._error("invalid_grant", "AADSTS70000: the code is invalid or was used.")
        if grant.redirect_uri != form.get("redirect_uri"):
            return self._error("invalid_grant", "AADSTS50011: redirect_uri does not match.")
        if grant.challenge is not None:
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
                return self._error("invalid_grant", "AADSTS501481: code_verifier does not match.")
        offline = "offline_access" in grant.scope or "mail.google.com" in grant.scope
        return Response.json(self._tokens(grant.account, client_id, grant.scope, offline))

    def _refresh_grant(self, client_id: str, form: dict[str, str], google: bool) -> Response:
        self.refresh_calls += 1
        self.refresh_arrived.set()
        if self.refresh_gate is not None:
            self.refresh_gate.wait(timeout=30)
        value = form.get("refresh_token", "")
        with self._lock:
            found = self.refresh_tokens.get(value)
            if found is None or found[0] != client_id:
                return self._error(
                    "invalid_grant",
                    "AADSTS700082: The refresh token has expired or was revoked.",
                )
            if not google:  # Microsoft rotates: the old refresh token stops working
                del self.refresh_tokens[value]
        _, account, scope = found
        return Response.json(self._tokens(account, client_id, scope, refresh=not google))

    def _devicecode(self, request: Request) -> Response:
        form = request.form()
        if form.get("client_id") not in self.clients:
            return self._error("invalid_client", "unknown client")
        device_code = "dc-" + secrets.token_urlsafe(16)
        user_code = secrets.token_hex(4).upper()
        self._devices[device_code] = _DeviceCode(
            form["client_id"], form.get("scope", ""), user_code, time.time() + 900
        )
        google = request.path == "/device/code"
        uri_key = "verification_url" if google else "verification_uri"
        return Response.json(
            {
                "device_code": device_code,
                "user_code": user_code,
                uri_key: self.base_url + "/devicelogin",
                "expires_in": 900,
                "interval": self.device_interval,
                "message": f"To sign in, open {self.base_url}/devicelogin and enter {user_code}.",
            }
        )

    def expire_device_codes(self) -> None:
        for device in self._devices.values():
            device.expires_at = 0

    def _device_grant(self, client_id: str, form: dict[str, str]) -> Response:
        device = self._devices.get(form.get("device_code", ""))
        if device is None or device.client_id != client_id:
            return self._error("invalid_grant", "unknown device code")
        if device.expires_at <= time.time():
            return self._error("expired_token", "AADSTS70020: the device code expired.")
        device.polls += 1
        if device.polls <= self.device_slow_down_polls:
            return self._error("slow_down", "polling too fast")
        if device.polls <= self.device_slow_down_polls + self.device_pending_polls:
            return self._error("authorization_pending", "AADSTS70016: the user has not signed in.")
        del self._devices[form["device_code"]]
        return Response.json(self._tokens(self.sign_in_as, client_id, device.scope, True))

    def _introspect(self, request: Request) -> Response:
        token = self.account_of(request.form().get("token"))
        if token is None or token.account is None:
            return Response.json({"active": False})
        return Response.json(
            {
                "active": True,
                "username": token.account,
                "client_id": token.client_id,
                "scope": token.scope,
                "exp": int(token.expires_at),
            }
        )

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self.http.start()
        self.introspection.start()

    def stop(self) -> None:
        for gate in (self.refresh_gate, self.grant_gate):
            if gate is not None:
                gate.set()
        self.http.stop()
        self.introspection.stop()


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _id_token(account: str, client_id: str, issuer: str) -> str:
    """An OpenID Connect id_token; the client reads it straight from the token endpoint over
    TLS, which OIDC Core 3.1.3.7 accepts in place of checking the signature."""
    now = int(time.time())
    claims = {
        "iss": issuer + "/v2.0",
        "aud": client_id,
        "iat": now,
        "exp": now + 3600,
        "sub": hashlib.sha256(account.encode()).hexdigest()[:22],
        "email": account,
        "preferred_username": account,
        "name": account.split("@")[0].title(),
    }
    return f"{_b64({'alg': 'RS256', 'typ': 'JWT'})}.{_b64(claims)}.{secrets.token_urlsafe(32)}"
