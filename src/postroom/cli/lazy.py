"""Sub-commands loaded when they run, so each `postroom` call imports only what it uses.

Importing every command module made each call pay for SQLAlchemy, httpx, authlib and the
connectors before it did anything (about 1.3 s of CPU); `postroom --help` now imports none of
them. A sub-command is named here with its module and one line of help, which the top-level
help shows without importing the module (a test checks the line matches the module's own).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer._click import Command, Context  # typer's own click, which its groups are made of
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Lazy:
    module: str
    attribute: str  # a typer.Typer, or a function to register as one command
    help: str

    def load(self, name: str) -> Command:
        """The command exactly as `add_typer` / `command()` on the top-level app made it."""
        target = getattr(importlib.import_module(self.module), self.attribute)
        holder = typer.Typer(add_completion=False)  # completion belongs to the top level only
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=name)
            group = typer.main.get_command(holder)
            assert isinstance(group, TyperGroup)
            return plain(group.commands[name])
        holder.command(name)(target)
        return plain(typer.main.get_command(holder))


def plain(command: Command) -> Command:
    """Help and usage errors as plain text, as Click writes them. Typer's default formats them
    with Rich, whose import (with its Markdown parser) was a third of `postroom --help`; our
    help strings use no markup. Set here, on every loaded command, rather than on each
    typer.Typer of each module."""
    if isinstance(command, TyperGroup | TyperCommand):
        command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        plain(sub)
    return command


class LazyCommand(TyperGroup):
    """Stands in the top-level help with its line of help; loads the real one to run (the
    group that runs a sub-command asks it for a context, which the real one makes)."""

    def __init__(self, name: str, lazy: Lazy) -> None:
        super().__init__(name=name, help=lazy.help, short_help=lazy.help)
        self.lazy = lazy
        self._real: Command | None = None

    @property
    def real(self) -> Command:
        if self._real is None:
            self._real = self.lazy.load(self.name or "")
        return self._real

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: Context | None = None,
        **extra: Any,
    ) -> Context:
        return self.real.make_context(info_name, args, parent, **extra)


class LazyGroup(TyperGroup):
    """The top-level group: its own commands, then the lazy ones, in the order given."""

    lazy: ClassVar[Mapping[str, Lazy]] = {}

    def list_commands(self, ctx: Context) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in self.lazy:
            return LazyCommand(cmd_name, self.lazy[cmd_name])
        return super().get_command(ctx, cmd_name)
