"""The first administrator is made through a setup link that only the operator sees: `postroom
serve` prints it, `postroom first-run-link` prints it again. Nothing about the request (its
peer address, its Host header) is trusted, since behind a proxy every visitor looks local."""

from __future__ import annotations

import base64
import hmac

from sqlalchemy.orm import Session

from postroom.errors import NotFound
from postroom.services import users
from postroom.storage.models import User
from postroom.storage.secrets import derived_key

PATH = "/first-run"
GONE = "There is no first-run page: an administrator exists, or the setup link is not this one."


def token() -> str:
    """Derived from the secret key: the same for `serve` and the CLI, never stored, and useless
    once an administrator exists."""
    return base64.urlsafe_b64encode(derived_key("first-run")[:24]).decode()


def link(db: Session, base_url: str) -> str | None:
    """The setup link while no administrator exists; None after."""
    if not users.needs_first_admin(db):
        return None
    return f"{base_url.rstrip('/')}{PATH}?token={token()}"


def check(db: Session, given: str) -> None:
    """NotFound unless the link is the right one and no administrator exists yet."""
    if not (given and hmac.compare_digest(given, token()) and users.needs_first_admin(db)):
        raise NotFound(GONE)


def make_admin(db: Session, given: str, email: str, password: str) -> User:
    if not (given and hmac.compare_digest(given, token())):
        raise NotFound(GONE)
    return users.add_first_admin(db, email, password)
