"""postroom workflow …"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from postroom.cli.context import database, listing
from postroom.cli.output import JsonFlag, emit, read_text_file, table
from postroom.errors import InvalidInput
from postroom.services import listings
from postroom.services.actors import OPERATOR

app = typer.Typer(help="Workflows: the ordered steps requests move through.", no_args_is_help=True)


@app.command()
def add(
    name: str,
    steps: Annotated[str, typer.Option(help='Step names in order, e.g. "New,Triage,Done"')],
    as_json: JsonFlag = False,
) -> None:
    """Add a workflow."""
    from postroom.services import present, workflows

    with database() as db:
        data = present.workflow(workflows.add(db, OPERATOR, name, steps))
    emit(as_json, data, f"Added workflow {data['name']}: {' -> '.join(data['steps'])}.")


@app.command()
def steps(
    name: str,
    steps: Annotated[
        str,
        typer.Option(
            help='The steps in order, e.g. "New,Triage=Working,Done": OLD=NEW renames a step, '
            "a step left out is removed (refused while requests sit on it)"
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Rename, add, reorder or remove a workflow's steps; requests keep their step."""
    from postroom.services import present, workflows

    with database() as db:
        data = present.workflow(workflows.set_steps(db, OPERATOR, name, steps))
    emit(as_json, data, f"Workflow {data['name']}: {' -> '.join(data['steps'])}.")


@app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Include removed workflows")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List workflows."""
    with listing() as db:
        rows = listings.workflows(db, include_deleted=all_)
    for row in rows:
        row["steps_text"] = ", ".join(row["steps"])
    emit(
        as_json,
        [{k: v for k, v in r.items() if k != "steps_text"} for r in rows],
        table(rows, ["name", "status", "steps_text"], "No workflows yet: `postroom workflow add`."),
    )


def _switch(name: str, active: bool, as_json: bool) -> None:
    from postroom.services import present, workflows

    with database() as db:
        data = present.workflow(workflows.set_active(db, OPERATOR, name, active))
    emit(as_json, data, f"Workflow {name} is {data['status']}.")


@app.command()
def activate(name: str, as_json: JsonFlag = False) -> None:
    """Activate a workflow: its mailboxes open requests again."""
    _switch(name, True, as_json)


@app.command()
def deactivate(name: str, as_json: JsonFlag = False) -> None:
    """Deactivate a workflow: its mailboxes hold new mail instead of opening requests."""
    _switch(name, False, as_json)


@app.command()
def threading(
    name: str,
    same_domain: Annotated[
        bool,
        typer.Option(
            "--same-domain/--participants-only",
            help="Whether a sender of the same domain as someone who took part may join",
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Who may join a request by naming it (In-Reply-To, References, [#N]): only those who
    took part in it, or also their colleagues of the same domain."""
    from postroom.services import present, workflows

    with database() as db:
        data = present.workflow(workflows.set_thread_same_domain(db, OPERATOR, name, same_domain))
    who = "senders of a participant's domain too" if same_domain else "participants only"
    emit(as_json, data, f"Requests of workflow {name} are joined by {who}.")


@app.command()
def remove(
    name: str,
    reason: Annotated[str, typer.Option(help="Why; kept in the audit log")],
    as_json: JsonFlag = False,
) -> None:
    """Remove a workflow; mailboxes tied to it still show it, as removed."""
    from postroom.services import present, workflows

    with database() as db:
        data = present.workflow(workflows.remove(db, OPERATOR, name, reason))
    emit(as_json, data, f"Removed workflow {name}.")


@app.command()
def acknowledge(
    name: str,
    body_file: Annotated[
        Path | None, typer.Option(help="The text; $request, $subject, $requester, $workflow")
    ] = None,
    subject: Annotated[str | None, typer.Option(help="The subject, with the same fields")] = None,
    off: Annotated[bool, typer.Option("--off", help="Send no acknowledgements")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Email each sender whose email opens a request in this workflow (at most a few a day)."""
    from postroom.services import present

    if off == (body_file is not None):
        raise InvalidInput("Give either --body-file FILE or --off.", field="body")
    from postroom.services import acknowledgements  # the outbound path: see cli/lazy.py

    with database() as db:
        row = acknowledgements.configure(
            db,
            OPERATOR,
            name,
            body=None if off else read_text_file(body_file, "acknowledgement"),
            subject=subject,
        )
        data = present.workflow(row)
    state = "on" if data["acknowledgement"] else "off"
    emit(as_json, data, f"Acknowledgements for workflow {data['name']} are {state}.")
