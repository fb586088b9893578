"""Alembic driven from code, so `postroom db upgrade` needs no alembic.ini beside it.

Every CLI call checks that the database is at this code's revision, so that check must not
import Alembic (about half a second of CPU here): it reads the version table with one query and
this code's head from the migration files' own `revision = …` lines. Alembic itself is imported
only to migrate, or when the files do not name one head plainly.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, String, column, inspect, select, table

from postroom.storage.db import default_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine | None = None, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine or default_engine()), revision)


def revisions(engine: Engine) -> tuple[str | None, str | None]:
    """(the database's schema revision, or None when it has no schema; this code's head)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            current = None
        else:
            query = select(column("version_num", String)).select_from(table(VERSION_TABLE))
            rows = connection.execute(query).all()
            if len(rows) > 1:
                return _alembic_revisions(engine)  # several branches: Alembic says which
            current = rows[0][0] if rows else None
    return current, code_head() or _alembic_revisions(engine)[1]


def code_head() -> str | None:
    """The one revision no other migration follows, or None if the files do not say plainly."""
    named: set[str] = set()
    followed: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        values: dict[str, object] = {}
        for name, expression in _ASSIGNMENT.findall(path.read_text(encoding="utf-8")):
            try:
                values[name] = ast.literal_eval(expression)
            except (ValueError, SyntaxError):
                return None
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str):
            return None
        named.add(revision)
        if isinstance(down, str):
            followed.add(down)
        elif isinstance(down, tuple | list):
            followed.update(str(d) for d in down)
    heads = named - followed
    return heads.pop() if len(heads) == 1 else None


def _alembic_revisions(engine: Engine) -> tuple[str | None, str | None]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    return current, head
