"""One lookup source a module. The order here is the ranking: a setting an administrator or a
provider states outranks one inferred from DNS, which outranks a probe's guess."""

from __future__ import annotations

from collections.abc import Sequence

from postroom.discovery.model import Source
from postroom.discovery.sources.admin import AdminEntry, AdminTable
from postroom.discovery.sources.autoconfig import AUTOCONFIG, WELL_KNOWN
from postroom.discovery.sources.autodiscover import Autodiscover
from postroom.discovery.sources.builtin import BuiltIn
from postroom.discovery.sources.ispdb import ISPDB
from postroom.discovery.sources.mx import MxProvider
from postroom.discovery.sources.probe import Probe
from postroom.discovery.sources.srv import SrvRecords

__all__ = ["ORDER", "AdminEntry", "AdminTable", "all_sources"]

ORDER: tuple[str, ...] = (
    "admin",
    "built-in",
    "autoconfig",
    "well-known",
    "ispdb",
    "mx",
    "srv",
    "autodiscover",
    "probe",
)


def all_sources(admin_entries: Sequence[AdminEntry]) -> tuple[Source, ...]:
    return (
        AdminTable(admin_entries),
        BuiltIn(),
        AUTOCONFIG,
        WELL_KNOWN,
        ISPDB,
        MxProvider(),
        SrvRecords(),
        Autodiscover(),
        Probe(),
    )
