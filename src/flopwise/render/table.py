"""The report as a table: rich renderables for terminals and notebooks, plain text for files.

``rich_table`` is what ``Report.__rich__`` shows; ``render_text`` is ``str(report)``. Both lay out
the same pieces: a line saying what ran, the module table (selectable columns, depth-limited,
% of total FLOPs, uncalled modules marked), the per-phase split when more than one phase ran,
the totals with the convention's name, the unsupported ops (always, when there are any), and
notes (decompositions, the convention's summary, the unit prefixes).

>>> import torch, flopwise
>>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
>>> report = flopwise.profile(model, torch.randn(4, 8))
>>> text = render_text(report, columns="name,macs,flops", width=100)
>>> "FLOPs (standard)" in text and "1.34 K (1,344)" in text
True
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from flopwise.render import sections
from flopwise.render.columns import Column, cell_text, parse_columns
from flopwise.render.view import Viewable, as_view

__all__ = [
    "modules_table",
    "phases_table",
    "totals_table",
    "pairs_table",
    "unsupported_table",
    "ops_table",
    "report_view",
    "rich_table",
    "render_text",
    "render_ops_text",
    "to_text",
]

_NATURAL_WIDTH = 100_000  # wide enough that nothing wraps: tables take their natural width


def to_text(renderable: RenderableType, width: int | None = None) -> str:
    """Render without colour at ``width`` columns (``None``: each line as wide as it needs)."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width or _NATURAL_WIDTH, color_system=None,
                      force_terminal=False, no_color=True, soft_wrap=False, emoji=False,
                      highlight=False, markup=False)
    console.print(renderable)
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    return "\n".join(lines).strip("\n") + "\n"


def _table(title: str | None, headers: Sequence[str], numeric: Sequence[bool]) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False,
                  header_style="bold", title_style="bold")
    for header, is_number in zip(headers, numeric):
        table.add_column(header, justify="right" if is_number else "left",
                         no_wrap=is_number, overflow="fold")
    return table


def modules_table(report: Viewable, columns: str | Sequence[str] | None = None,
                  max_depth: int | None = None) -> Table:
    """One row per module (parents first) down to ``max_depth`` (root = 0)."""
    view = as_view(report)
    chosen: list[Column] = parse_columns(columns, view)
    table = _table(f"Modules (FLOPs: {view.convention})",
                   [c.header for c in chosen], [c.numeric for c in chosen])
    ran = view.ran
    for row in view.modules(max_depth):
        table.add_row(*(cell_text(c, row, view, row.name in ran) for c in chosen),
                      style=None if row.name in ran else "dim")
    return table


def phases_table(report: Viewable) -> Table:
    """MACs, FLOPs and bytes of each phase that ran (forward, backward, optimizer)."""
    table = _table("Phases", sections.PHASE_HEADERS, [False] + [True] * 5)
    for row in sections.phase_rows(as_view(report)):
        table.add_row(*row)
    return table


def totals_table(report: Viewable) -> Table:
    """Totals over every phase that ran, the convention named in the title."""
    view = as_view(report)
    grid = Table.grid(padding=(0, 2))
    grid.title = f"Totals (convention: {view.convention})"
    grid.title_justify = "left"
    grid.title_style = "bold"
    grid.add_column(no_wrap=True)
    grid.add_column()
    for label, value in sections.totals(view):
        grid.add_row(label, value)
    return grid


def pairs_table(title: str, pairs: Sequence[tuple[str, str]]) -> Table:
    """A titled two-column grid of label/value pairs (memory, estimate, measured)."""
    grid = Table.grid(padding=(0, 2))
    grid.title = title
    grid.title_justify = "left"
    grid.title_style = "bold"
    grid.add_column(no_wrap=True)
    grid.add_column()
    for label, value in pairs:
        grid.add_row(label, value)
    return grid


def unsupported_table(report: Viewable) -> Table:
    """The ops that had no formula, with their call counts."""
    table = _table("Unsupported ops (not counted)", sections.UNSUPPORTED_HEADERS, (False, True))
    for row in sections.unsupported_rows(as_view(report)):
        table.add_row(*row, style="yellow")
    return table


def ops_table(report: Viewable) -> Table:
    """One row per operator overload: status, calls, MACs, FLOPs, % of FLOPs, bytes."""
    view = as_view(report)
    table = _table(f"Operators (FLOPs: {view.convention})", sections.OP_HEADERS,
                   (False, False, True, True, True, True, True, True))
    for row in sections.op_rows(view):
        table.add_row(*row, style="yellow" if row[1] == "unsupported" else None)
    return table


def report_view(report: Viewable, *body: RenderableType) -> Table:
    """What ran, then ``body`` (the module table or tree), then phases, totals, unsupported
    ops and notes: the frame every human-readable rendering shares."""
    view = as_view(report)
    grid = Table.grid()
    grid.add_column()
    grid.add_row(Text(f"flopwise: {sections.run_line(view)}", style="bold"))
    for part in body:
        grid.add_row(part)
    if len(view.phases) > 1:
        grid.add_row(phases_table(view))
    grid.add_row(totals_table(view))
    for title, pairs in sections.extra_sections(view):
        grid.add_row("")
        grid.add_row(pairs_table(title, pairs))
    if view.unsupported:
        grid.add_row("")
        grid.add_row(unsupported_table(view))
        grid.add_row(Text(sections.STRICT_HINT, style="yellow"))
    grid.add_row("")
    for line in sections.notes(view):
        grid.add_row(Text(line, style="dim"))
    return grid


def rich_table(report: Viewable, columns: str | Sequence[str] | None = None,
               max_depth: int | None = None, ops: bool = False) -> Table:
    """The whole report as one rich renderable: the module table (and, with ``ops``, the
    per-operator table) in the frame of :func:`report_view`."""
    view = as_view(report)
    body: list[RenderableType] = [modules_table(view, columns, max_depth)]
    if ops:
        body.append(ops_table(view))
    return report_view(view, *body)


def render_text(report: Viewable, columns: str | Sequence[str] | None = None,
                max_depth: int | None = None, width: int | None = None, ops: bool = False) -> str:
    """The report as plain text (no colour); ``width=None`` never wraps a line."""
    return to_text(rich_table(report, columns, max_depth, ops), width)


def render_ops_text(report: Viewable, width: int | None = None) -> str:
    """Only the per-operator table, as plain text, with the convention line under it."""
    view = as_view(report)
    grid = Table.grid()
    grid.add_column()
    grid.add_row(ops_table(view))
    grid.add_row(sections.convention_line(view))
    return to_text(grid, width)
