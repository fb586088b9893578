"""postroom provider … and postroom discover ADDRESS."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from postroom.cli.context import database
from postroom.cli.output import JsonFlag, emit, fields, table
from postroom.services import discovery as discovery_service
from postroom.services import present, providers
from postroom.services.actors import OPERATOR

provider_app = typer.Typer(
    help="Mail providers for discovery: which servers serve which domains.", no_args_is_help=True
)
CANDIDATE_COLUMNS = [
    "source",
    "protocol",
    "host",
    "port",
    "security",
    "login_format",
    "oauth_provider",
    "provider",
]


def _provider_text(data: dict[str, Any]) -> str:
    lines = [fields({k: v for k, v in data.items() if k != "settings"})]
    lines += [
        f"  {s['protocol']:<5} {s['host']}:{s['port']} {s['security']} (login: {s['login_format']})"
        for s in data["settings"]
    ]
    return "\n".join(lines)


@provider_app.command()
def add(
    name: str,
    server: Annotated[list[str], typer.Option(help="A server it offers (repeat for several)")],
    domain: Annotated[
        list[str] | None, typer.Option(help="A domain it serves (repeatable)")
    ] = None,
    display_name: Annotated[str, typer.Option(help="The name people see")] = "",
    oauth: Annotated[str | None, typer.Option(help="microsoft, google or generic")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add your own provider over servers added with `postroom server add`."""
    spec = providers.ProviderSpec(name, tuple(server), display_name, oauth, tuple(domain or ()))
    with database() as db:
        data = present.provider(providers.add(db, OPERATOR, spec))
    emit(as_json, data, f"Added provider {data['name']} ({len(data['servers'])} server(s)).")


@provider_app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """List built-in and own providers with their domains."""
    with database() as db:
        rows = [present.provider(p) for p in providers.listing(db)]
    shown = [r | {"domains": ", ".join(r["domains"] + r["added_domains"])} for r in rows]
    emit(as_json, rows, table(shown, ["name", "kind", "oauth_provider", "domains"], "None."))


@provider_app.command()
def show(name: str, as_json: JsonFlag = False) -> None:
    """Show one provider: its settings and domains."""
    with database() as db:
        data = present.provider(providers.get(db, name))
    emit(as_json, data, _provider_text(data))


@provider_app.command("add-domain")
def add_domain(name: str, domain: str, as_json: JsonFlag = False) -> None:
    """Give a domain to a provider; discovery then offers its settings first."""
    with database() as db:
        data = present.provider(providers.add_domain(db, OPERATOR, name, domain))
    emit(as_json, data, f"{domain} now belongs to provider {data['name']}.")


@provider_app.command("remove-domain")
def remove_domain(name: str, domain: str, as_json: JsonFlag = False) -> None:
    """Take back a domain an administrator gave to a provider."""
    with database() as db:
        data = present.provider(providers.remove_domain(db, OPERATOR, name, domain))
    emit(as_json, data, f"{domain} no longer belongs to provider {data['name']}.")


@provider_app.command()
def remove(name: str, as_json: JsonFlag = False) -> None:
    """Remove a provider of your own (its servers stay)."""
    with database() as db:
        providers.remove(db, OPERATOR, name)
    emit(as_json, {"removed": name}, f"Removed provider {name}.")


def _discovery_text(data: dict[str, Any]) -> str:
    rows = [
        c | {"host": c["host"] + (" (guess)" if c["guessed"] else "")} for c in data["candidates"]
    ]
    lines = [
        f"Settings for {data['address']}, best first:",
        table(rows, CANDIDATE_COLUMNS, "  none found"),
    ]
    notes = dict.fromkeys(c["note"] for c in data["candidates"] if c["note"])
    lines += [f"Note: {note}" for note in notes]
    lines.append("Where each source looked:")
    lines += [f"  {o['source']:<12} {o['status']:<9} {o['detail']}" for o in data["outcomes"]]
    return "\n".join(lines)


def discover(
    address: str,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds each source may take (default 5)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Find server settings for an address: each names its source. Nothing signs in."""
    result = discovery_service.discover(OPERATOR, address, timeout=timeout)
    data = present.discovery(result)
    emit(as_json, data, _discovery_text(data))
