"""``flopwise diff BEFORE.json AFTER.json``: what changed between two saved reports.

Reads the JSON written by ``flopwise profile -f json`` (or ``report.to_json()``); never imports
torch.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from flopwise.cli.app import app, errors_to_exit, write_output
from flopwise.render.formats import format_choices, format_help, render

__all__ = ["DiffFormat", "diff_command"]


#: Output formats of ``flopwise diff`` (:data:`flopwise.render.formats.FORMATS`).
if TYPE_CHECKING:
    DiffFormat = str
else:  # Literal[the format names]: Typer offers them as the choices
    DiffFormat = format_choices("diff")


class SortBy(str, Enum):
    """The metric whose absolute change orders the modules."""

    FLOPS = "flops"
    MACS = "macs"
    PARAMS = "params"
    BYTES = "bytes"


@app.command("diff")
def diff_command(
    before: Path = typer.Argument(..., metavar="BEFORE.json", help="The earlier saved report."),
    after: Path = typer.Argument(..., metavar="AFTER.json", help="The later saved report."),
    output_format: DiffFormat = typer.Option(
        "table", "--format", "-f", help=format_help("diff")
    ),
    sort: SortBy = typer.Option(
        SortBy.FLOPS, "--sort", help="Order modules by the absolute change of this metric."
    ),
    top: int | None = typer.Option(
        None, "--top", "-n", min=1, help="Show only the N modules that changed most."
    ),
    include_unchanged: bool = typer.Option(
        False, "--all", help="Also list modules whose figures did not change."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file instead of stdout."
    ),
) -> None:
    """Per-module and total changes of params, MACs, FLOPs and bytes between two saved reports.

    Modules are matched by name; added and removed ones are listed; the largest absolute change
    comes first. Both reports must count FLOPs under the same convention (exit 2 otherwise).
    """
    with errors_to_exit():
        from flopwise.diff import diff_reports
        from flopwise.saved import load_report

        first, second = load_report(before), load_report(after)
        changes = diff_reports(first, second, sort=sort.value, before_label=str(before),
                               after_label=str(after), include_unchanged=include_unchanged)
        write_output(render("diff", output_format, changes, top=top), output)
