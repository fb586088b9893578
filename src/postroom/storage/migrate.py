"""Alembic driven from code, so `postroom db upgrade` needs no alembic.ini beside it."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect

from postroom.storage.db import default_engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine or default_engine()), revision)


def is_current(engine: Engine) -> bool:
    """True when the schema exists; callers use it to say 'run postroom db upgrade'."""
    return inspect(engine).has_table("alembic_version")
