"""postroom token …: metrics tokens for Prometheus (API tokens are made under My profile)."""

from __future__ import annotations

from typing import Annotated

import typer

from postroom.cli.context import database, listing
from postroom.cli.output import JsonFlag, emit, table
from postroom.errors import InvalidInput
from postroom.services import listings
from postroom.services.actors import OPERATOR

app = typer.Typer(help="Tokens that read /metrics.", no_args_is_help=True)


@app.command()
def add(
    name: str,
    metrics: Annotated[
        bool, typer.Option("--metrics", help="A token that reads /metrics only")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Make a metrics token; it is printed this once."""
    from postroom.services import metrics_tokens, present

    if not metrics:
        raise InvalidInput(
            "Only metrics tokens are made here (--metrics); API tokens belong to a user: "
            "make them under My profile in the console."
        )
    with database() as db:
        row, token = metrics_tokens.create(db, OPERATOR, name)
        data = present.metrics_token(row) | {"token": token}
    emit(as_json, data, f"Metrics token {data['name']}: {token}\nIt is shown only this once.")


@app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """List metrics tokens (never the tokens themselves)."""
    with listing() as db:
        rows = listings.metrics_tokens(db, OPERATOR)
    emit(as_json, rows, table(rows, ["id", "name", "prefix", "last_used_at", "revoked"], "None."))


@app.command()
def revoke(token_id: int, as_json: JsonFlag = False) -> None:
    """Revoke a metrics token; Prometheus gets 401 from then on."""
    from postroom.services import metrics_tokens, present

    with database() as db:
        data = present.metrics_token(metrics_tokens.revoke(db, OPERATOR, token_id))
    emit(as_json, data, f"Revoked metrics token {data['name']}.")
