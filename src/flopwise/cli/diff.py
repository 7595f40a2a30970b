"""``flopwise diff BEFORE.json AFTER.json``: what changed between two saved reports.

Reads the JSON written by ``flopwise profile -f json`` (or ``report.to_json()``); never imports
torch.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from flopwise.cli.app import app, errors_to_exit, write_output

__all__ = ["DiffFormat", "diff_command"]


class DiffFormat(str, Enum):
    """Output formats of ``flopwise diff``."""

    TABLE = "table"
    JSON = "json"
    MD = "md"


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
        DiffFormat.TABLE, "--format", "-f", help="table, json or md."
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
        from flopwise.render.diff import (
            render_diff_json,
            render_diff_markdown,
            render_diff_text,
        )
        from flopwise.saved import load_report

        first, second = load_report(before), load_report(after)
        changes = diff_reports(first, second, sort=sort.value, before_label=str(before),
                               after_label=str(after), include_unchanged=include_unchanged)
        if output_format is DiffFormat.JSON:
            text = render_diff_json(changes, top)
        elif output_format is DiffFormat.MD:
            text = render_diff_markdown(changes, top)
        else:
            text = render_diff_text(changes, top)
        write_output(text, output)
