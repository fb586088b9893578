"""Is this Cloud Pub/Sub push really from Google? Google documents the check: the push carries
`Authorization: Bearer <OIDC token>`, a JWT signed RS256 by one of Google's keys (published as
a JWKS), issued by accounts.google.com for the audience the push subscription names, as the
service account it runs as (`email`, with `email_verified`). Only then is the push read.

The keys are fetched once and again when a token names a key not seen yet (Google rotates
them), at most once a minute, so a flood of forged tokens cannot make us fetch in a loop.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from postroom.connectors.tls import client_context
from postroom.errors import NotSignedIn

ISSUERS = ("https://accounts.google.com", "accounts.google.com")
LEEWAY = 60  # seconds of clock difference tolerated on exp and iat
REFETCH_AFTER = 60.0  # seconds between key fetches for an unknown key id


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _public_key(jwk: dict[str, Any]) -> rsa.RSAPublicKey:
    n = int.from_bytes(_b64(jwk["n"]), "big")
    e = int.from_bytes(_b64(jwk["e"]), "big")
    return rsa.RSAPublicNumbers(e, n).public_key()


class GoogleKeys:
    """Google's signing keys from a JWKS URL, by key id."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.keys: dict[str, rsa.RSAPublicKey] = {}
        self.fetched = 0.0
        self.lock = threading.Lock()

    def get(self, kid: str) -> rsa.RSAPublicKey | None:
        with self.lock:
            if kid not in self.keys and time.monotonic() - self.fetched > REFETCH_AFTER:
                self.keys = self.fetch()
                self.fetched = time.monotonic()
            return self.keys.get(kid)

    def fetch(self) -> dict[str, rsa.RSAPublicKey]:
        """The one place the keys are read from the network."""
        with httpx.Client(verify=client_context(True), timeout=10.0) as http:
            jwks = http.get(self.url).raise_for_status().json()
        return {k["kid"]: _public_key(k) for k in jwks.get("keys", []) if k.get("kty") == "RSA"}


def verify(token: str, keys: GoogleKeys, audience: str, account: str | None) -> dict[str, Any]:
    """The token's claims, or NotSignedIn saying what was wrong (never which key exists)."""
    try:
        head_b64, body_b64, signature_b64 = token.split(".")
        header = json.loads(_b64(head_b64))
        claims: dict[str, Any] = json.loads(_b64(body_b64))
        signature = _b64(signature_b64)
    except ValueError as exc:
        raise NotSignedIn("The push's token is not a JWT.") from exc
    if header.get("alg") != "RS256":
        raise NotSignedIn("The push's token is not signed RS256.")
    key = keys.get(str(header.get("kid", "")))
    if key is None:
        raise NotSignedIn("The push's token is not signed by a Google key.")
    try:
        signed = f"{head_b64}.{body_b64}".encode()
        key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise NotSignedIn("The push's token signature is wrong.") from exc
    now = time.time()
    if claims.get("iss") not in ISSUERS:
        raise NotSignedIn("The push's token was not issued by Google.")
    if claims.get("aud") != audience:
        raise NotSignedIn("The push's token is for another audience.")
    if not isinstance(claims.get("exp"), int | float) or claims["exp"] + LEEWAY < now:
        raise NotSignedIn("The push's token has expired.")
    if float(claims.get("iat", 0)) - LEEWAY > now:
        raise NotSignedIn("The push's token is issued in the future.")
    if account is not None and (claims.get("email") != account or not claims.get("email_verified")):
        raise NotSignedIn("The push's token is not from the expected service account.")
    return claims
