"""``flopwise ops``: every operator in the built-in formula registry, with its family and formula.

The registry (and so torch) is imported inside the command.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from flopwise.cli.app import app, errors_to_exit, stdout, write_output
from flopwise.errors import UsageError
from flopwise.render.formats import format_choices, format_help, render

if TYPE_CHECKING:
    from flopwise.formulas.registry import Entry

__all__ = ["OpsFormat", "ops_command", "registry_json", "registry_table", "entry_dict"]

#: Output formats of ``flopwise ops`` (:data:`flopwise.render.formats.FORMATS`).
if TYPE_CHECKING:
    OpsFormat = str
else:  # Literal[the format names]: Typer offers them as the choices
    OpsFormat = format_choices("ops")


def entry_dict(entry: Entry) -> dict[str, Any]:
    """One registry entry as JSON: key, family, kind, formula's first doc line, note."""
    return {
        "op": entry.key,
        "family": entry.family,
        "kind": entry.kind.value,
        "formula": entry.description,
        "note": entry.note,
        "moves_data": entry.moves_data,
    }


def registry_json(entries: list[Entry]) -> str:
    """``ops -f json``: ``{"ops": [entry, ...]}``."""
    return json.dumps({"ops": [entry_dict(e) for e in entries]}, indent=2)


def registry_table(entries: list[Entry]) -> Table:
    """One row per registered op; a formula's note follows its first doc line."""
    families = Counter(entry.family for entry in entries)
    table = Table(
        title=f"{len(entries)} registered ops in {len(families)} "
              f"famil{'y' if len(families) == 1 else 'ies'}",
        caption=("kind: formula = a cost formula; zero = declared cost-free (views, copies, "
                 "shape and index ops). Ops not listed are tried through their decomposition, "
                 "else reported as unsupported."),
        caption_justify="left",
        title_justify="left",
    )
    table.add_column("op", no_wrap=True)
    table.add_column("family", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("formula / note")
    for entry in entries:
        text = entry.description
        if entry.note and entry.note != text:
            text = f"{text} (NB: {entry.note})"
        table.add_row(entry.key, entry.family, entry.kind.value, text)
    return table


def _family(name: str, families: list[str]) -> str:
    """The family called ``name``, or the only one it is a prefix of (``conv``)."""
    if name in families:
        return name
    starting = [family for family in families if family.startswith(name.lower())]
    if len(starting) == 1:
        return starting[0]
    close = starting or difflib.get_close_matches(name, families, n=2)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise UsageError(f"unknown family {name!r}; {hint}choose from: {', '.join(families)}")


@app.command("ops")
def ops_command(
    family: str | None = typer.Option(
        None, "--family", help="Only this family (matmul, convolution, attention, pointwise, "
        "...; a unique prefix such as conv works)."
    ),
    output_format: OpsFormat = typer.Option("table", "--format", "-f", help=format_help("ops")),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
) -> None:
    """List every operator flopwise has a cost formula for (or declares cost-free)."""
    with errors_to_exit():
        from flopwise.formulas import builtin_registry

        entries = builtin_registry().entries()
        if family is not None:
            chosen = _family(family, sorted({entry.family for entry in entries}))
            entries = [entry for entry in entries if entry.family == chosen]
        table = render("ops", output_format, entries)
        if isinstance(table, str):
            write_output(table, output)
            return
        if output is None and stdout.is_terminal:
            stdout.print(table)
            return
        from flopwise.render.table import to_text

        write_output(to_text(table), output)
