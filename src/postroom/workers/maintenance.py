"""The periodic upkeep the scheduler runs: held mail past its retention is purged, and
expired sign-in rows are swept. Each job fails alone, logged, and is tried again next time."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Engine

from postroom.services import housekeeping, retention
from postroom.services.actors import SYSTEM
from postroom.services.housekeeping import Sweep
from postroom.services.retention import Purge
from postroom.storage.db import unit_of_work

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upkeep:
    purge: Purge | None  # None: the job failed (see the log)
    sweep: Sweep | None


def run(engine: Engine) -> Upkeep:
    purged: Purge | None = None
    swept: Sweep | None = None
    try:
        purged = retention.purge(engine, SYSTEM)
    except Exception:  # logged; the held mail stays until the next round
        log.exception("purging held mail past its retention failed")
    try:
        with unit_of_work(engine) as db:
            swept = housekeeping.sweep(db, SYSTEM)
    except Exception:  # logged; expired rows decide nothing, they only wait longer
        log.exception("sweeping expired sessions and sign-in rows failed")
    return Upkeep(purge=purged, sweep=swept)
