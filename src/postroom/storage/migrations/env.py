"""Alembic environment: the engine comes from postroom, never from a second config file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from postroom.storage.db import default_engine
from postroom.storage.models import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    engine = default_engine()

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
