"""``flopwise explain``: why two FLOP counts of one run differ.

``flopwise explain MODEL --from macs --to fvcore`` profiles MODEL once and splits the
difference of the two conventions' totals by op family, op and module; ``flopwise explain
A.json B.json`` does the same for two saved reports of one run (``flopwise diff`` refuses
reports of different conventions). torch is imported only to profile a model.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from flopwise.cli.app import app, errors_to_exit, write_output

__all__ = ["ExplainFormat", "explain_command"]


class ExplainFormat(str, Enum):
    """Output formats of ``flopwise explain``."""

    TABLE = "table"
    JSON = "json"
    MD = "md"


@app.command("explain")
def explain_command(
    sources: list[str] = typer.Argument(
        ..., metavar="MODEL | A.json B.json",
        help="A model spec (as for flopwise profile), or two saved reports of one run.",
    ),
    first: str = typer.Option("macs", "--from", help="Convention subtracted (a model only)."),
    second: str = typer.Option("fvcore", "--to", help="Convention explained (a model only)."),
    inputs: list[str] = typer.Option(
        [], "--input", "-i", metavar="SHAPE", help="As flopwise profile --input."
    ),
    kwargs: list[str] = typer.Option(
        [], "--kwarg", "-k", metavar="NAME=SHAPE[:DTYPE]", help="As flopwise profile --kwarg."
    ),
    device: str = typer.Option("meta", "--device", help="As flopwise profile --device."),
    top: int | None = typer.Option(
        10, "--top", "-n", min=1, help="Lines per split (the rest summed on one line)."
    ),
    output_format: ExplainFormat = typer.Option(
        ExplainFormat.TABLE, "--format", "-f", help="table, json or md."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file instead of stdout."
    ),
) -> None:
    """Split the difference between two conventions' FLOPs by op family, op and module.

    The parts of each split add up exactly to the difference (modules by their own ops).
    """
    with errors_to_exit():
        from flopwise.errors import UsageError
        from flopwise.render.explain import (
            render_explanation_json,
            render_explanation_markdown,
            render_explanation_text,
        )

        if len(sources) == 2:
            from flopwise.explain import explain_saved
            from flopwise.saved import load_report

            why = explain_saved(load_report(sources[0]), load_report(sources[1]))
        elif len(sources) == 1:
            from flopwise.cli.profile import _profile_torch
            from flopwise.conventions import get_convention

            get_convention(first), get_convention(second)
            report = _profile_torch(sources[0], inputs, [], kwargs, device, False, None,
                                    False, first, False)
            why = report.explain(second)
        else:
            raise UsageError(f"explain takes one model or two saved reports, not "
                             f"{len(sources)} arguments")
        if output_format is ExplainFormat.JSON:
            text = render_explanation_json(why)
        elif output_format is ExplainFormat.MD:
            text = render_explanation_markdown(why, top)
        else:
            text = render_explanation_text(why, top)
        write_output(text, output)
