"""Shared CLI parameter types: numbers are checked against what the database can hold here,
so `request show 99999999999999999999` is a usage error, not an OverflowError from the driver."""

from __future__ import annotations

from typing import Annotated

import typer

# Row ids and counts are 32-bit INTEGER columns on PostgreSQL; SQLite holds more, never less.
LARGEST = 2**31 - 1

RowId = Annotated[int, typer.Argument(metavar="ID", min=1, max=LARGEST, show_default=False)]
Limit = Annotated[int, typer.Option(help="How many, newest first; 0 for all", min=0, max=LARGEST)]
Days = Annotated[int, typer.Argument(metavar="DAYS", min=0, max=LARGEST, show_default=False)]
