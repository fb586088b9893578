"""postroom webhook …: where events go, and what became of each delivery."""

from __future__ import annotations

from typing import Annotated

import typer

from postroom.cli.context import database, listing
from postroom.cli.output import JsonFlag, emit, fields, table
from postroom.cli.params import Limit, RowId
from postroom.domain.events import EVENTS
from postroom.errors import InvalidInput
from postroom.services import listings
from postroom.services.actors import OPERATOR
from postroom.storage.db import default_engine

app = typer.Typer(help="Webhooks: tell other products what happened.", no_args_is_help=True)

ONCE_NOTE = "Keep this secret now; postroom will not show it again (rotate-secret makes a new one)."


@app.command()
def add(
    name: str,
    url: Annotated[str, typer.Option(help="Where events are POSTed (https://…)")],
    event: Annotated[
        list[str], typer.Option("--event", help=f"Repeat; one of {', '.join(EVENTS)}, or *")
    ],
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a webhook; its signing secret is printed once."""
    from postroom.services import present, webhooks

    with database() as db:
        made = webhooks.add(db, OPERATOR, name, url, event, active=not disabled)
        data = present.webhook(made.subscription, made.secret)
    emit(as_json, data, f"Added webhook {name}.\nSigning secret: {made.secret}\n{ONCE_NOTE}")


@app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """List webhooks."""
    with listing() as db:
        rows = listings.webhooks(db, OPERATOR)
    emit(as_json, rows, table(rows, ["name", "url", "events", "active"], "No webhooks yet."))


@app.command()
def show(name: str, as_json: JsonFlag = False) -> None:
    """Show one webhook (never its secret)."""
    with listing() as db:
        data = listings.webhook(db, OPERATOR, name)
    emit(as_json, data, fields(data))


@app.command()
def remove(name: str, as_json: JsonFlag = False) -> None:
    """Remove a webhook and its deliveries."""
    from postroom.services import webhooks

    with database() as db:
        webhooks.remove(db, OPERATOR, name)
    emit(as_json, {"removed": name}, f"Removed webhook {name}.")


@app.command()
def enable(name: str, as_json: JsonFlag = False) -> None:
    """Switch a webhook on."""
    from postroom.services import present, webhooks

    with database() as db:
        data = present.webhook(webhooks.set_active(db, OPERATOR, name, True))
    emit(as_json, data, f"Webhook {name} is on.")


@app.command()
def disable(name: str, as_json: JsonFlag = False) -> None:
    """Switch a webhook off: no events are queued for it until it is on again."""
    from postroom.services import present, webhooks

    with database() as db:
        data = present.webhook(webhooks.set_active(db, OPERATOR, name, False))
    emit(as_json, data, f"Webhook {name} is off.")


@app.command("rotate-secret")
def rotate_secret(name: str, as_json: JsonFlag = False) -> None:
    """Make a new signing secret (printed once); the old one stops at once."""
    from postroom.services import present, webhooks

    with database() as db:
        made = webhooks.rotate_secret(db, OPERATOR, name)
        data = present.webhook(made.subscription, made.secret)
    emit(as_json, data, f"New signing secret for {name}: {made.secret}\n{ONCE_NOTE}")


@app.command()
def test(name: str, as_json: JsonFlag = False) -> None:
    """Send a webhook.test event now; exit 1 unless the receiver answered 2xx."""
    from postroom.services import present, webhook_delivery, webhooks

    with database() as db:
        uid = webhooks.queue_test(db, OPERATOR, name)
    webhook_delivery.flush_once(default_engine(), uids=[uid])
    with database() as db:
        data = present.webhook_delivery(webhooks.delivery(db, OPERATOR, uid))
    emit(as_json, data, fields(data))
    if data["state"] != "delivered":
        raise typer.Exit(1)


@app.command()
def flush(
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due, then exit")] = False,
    retry_now: Annotated[bool, typer.Option("--retry-now", help="Ignore backoff")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Deliver what is due; exit 1 if a receiver did not accept one."""
    from postroom.services import webhook_delivery

    if not once:
        raise InvalidInput("Say --once: continuous delivery runs inside `postroom serve`.")
    with database():
        pass
    result = webhook_delivery.flush_once(default_engine(), retry_now=retry_now)
    data = result.as_dict()
    emit(as_json, data, fields(data))
    if result.errors:
        raise typer.Exit(1)


@app.command()
def deliveries(
    state: Annotated[
        str | None, typer.Option(help="pending, delivering, delivered, failed")
    ] = None,
    limit: Limit = 50,
    as_json: JsonFlag = False,
) -> None:
    """List deliveries, newest first."""
    from postroom.services import present, webhooks

    with database() as db:
        rows = [
            present.webhook_delivery(d) for d in webhooks.deliveries(db, OPERATOR, state, limit)
        ]
    columns = ["id", "webhook", "event", "state", "attempts", "last_status", "last_error"]
    emit(as_json, rows, table(rows, columns, "No deliveries."))


@app.command()
def redeliver(delivery_id: RowId, as_json: JsonFlag = False) -> None:
    """Queue a delivery again now (a failed one, or one to send once more)."""
    from postroom.services import present, webhooks

    with database() as db:
        data = present.webhook_delivery(webhooks.redeliver(db, OPERATOR, delivery_id))
    emit(as_json, data, f"Delivery {delivery_id} is queued again.")
