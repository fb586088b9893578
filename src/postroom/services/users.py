"""Users: the admin flag is the manage administration permission of the seeds."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import false, select, text, update
from sqlalchemy.orm import Session

from postroom.domain import validate
from postroom.errors import Conflict, InvalidInput, NotFound
from postroom.services import audit
from postroom.services.actors import Actor
from postroom.storage.models import User

if TYPE_CHECKING:
    from pwdlib import PasswordHash

MIN_PASSWORD_LENGTH = 8
FIRST_RUN = Actor(label="first-run", user_id=None, is_admin=True)


def add(db: Session, actor: Actor, email: str, password: str, *, admin: bool = False) -> User:
    actor.require_admin("add users")
    email = validate.address(email, "email")
    _check_length(password)
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"A user {email} already exists.")
    user = User(email=email, is_admin=admin)
    set_password(user, password)
    db.add(user)
    db.flush()
    audit.record(db, actor, "user.added", email, admin=admin)
    return user


def _check_length(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"The password is shorter than {MIN_PASSWORD_LENGTH} characters: choose a longer one.",
            field="password",
        )


def set_password(user: User, password: str) -> None:
    _check_length(password)
    user.password_hash = _hasher().hash(password)


def get(db: Session, email: str) -> User:
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"No user {email}: add one with `postroom user add {email}`.")
    return user


def listing(db: Session, actor: Actor) -> list[User]:
    actor.require_admin("list users")
    return list(db.scalars(select(User).order_by(User.email)))


def needs_first_admin(db: Session) -> bool:
    return db.scalar(select(User.id).where(User.is_admin).limit(1)) is None


def lock_for_writing(db: Session) -> None:
    """Changes that count administrators (the last one is never removed) wait for each other."""
    _one_writer_at_a_time(db)


def _one_writer_at_a_time(db: Session) -> None:
    """Until this transaction ends, any other that wants to write users waits here: the check
    that no administrator exists and the insert then act as one step."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
    else:  # SQLite: a write, even of no row, takes the database's one write lock
        db.execute(update(User).where(false()).values(is_admin=User.is_admin))


def add_first_admin(db: Session, email: str, password: str) -> User:
    """The first-run page's one action; once an administrator exists it is refused for good,
    and of several made at the same instant exactly one succeeds."""
    _one_writer_at_a_time(db)
    if not needs_first_admin(db):
        raise Conflict("An administrator already exists: sign in, or ask them to add you.")
    return add(db, FIRST_RUN, email, password, admin=True)


def burn_time(password: str) -> None:
    """Spend what verifying a real hash costs, so a refusal does not tell whether the account
    exists."""
    _hasher().verify(password, _burner())


@cache
def _hasher() -> PasswordHash:
    """argon2 is loaded by the calls that hash or verify, not by every import of users."""
    from pwdlib import PasswordHash

    return PasswordHash.recommended()


@cache
def _burner() -> str:
    """Made on first use, not at import: every process that imports this module (each CLI
    call, each worker) would otherwise pay for one argon2 hash it never needs."""
    return _hasher().hash("no user has this password")


def verify_password(user: User, password: str) -> bool:
    return user.password_hash is not None and _hasher().verify(password, user.password_hash)


def actor_for(user: User) -> Actor:
    return Actor(label=user.email, user_id=user.id, is_admin=user.is_admin)
