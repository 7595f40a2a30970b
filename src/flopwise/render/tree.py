"""The report as a module tree: each module on its own branch with its cost and share of the total.

Every node reads ``name (Type)  params … · MACs … · FLOPs … (pct%)`` (the root: its type
alone); the columns after the type are selectable like the table's (``name`` and ``type`` are
always shown). Below the tree come the same totals, unsupported ops and notes as in the table.

>>> import torch, flopwise
>>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
>>> report = flopwise.profile(model, torch.randn(4, 8))
>>> print(render_tree(report).splitlines()[1])
Sequential  params 178 · MACs 640 · FLOPs 1.34 K (100.0%)
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.tree import Tree

from flopwise.records import ModuleRow
from flopwise.render.columns import COLUMNS, Column, Kind, cell_text, parse_columns
from flopwise.render.table import report_view, to_text
from flopwise.render.view import NOT_CALLED, ReportView, Viewable, as_view

__all__ = ["TREE_COLUMNS", "node_label", "rich_tree", "tree_view", "render_tree"]

TREE_COLUMNS: tuple[str, ...] = ("params", "macs", "flops", "%flops")


def _columns(view: ReportView, columns: str | Sequence[str] | None) -> list[Column]:
    chosen = parse_columns(columns, view) if columns is not None else [
        COLUMNS[key] for key in TREE_COLUMNS]
    return [c for c in chosen if c.key not in ("name", "type")]


def node_label(row: ModuleRow, view: ReportView, columns: Sequence[Column],
               ran: bool = True) -> str:
    """``name (Type)  label value · …`` (the root: its type alone); the share of the total
    FLOPs follows the FLOPs in parentheses, or stands alone as ``x% of FLOPs``."""
    parts = {column.key: f"{column.label} {cell_text(column, row, view)}"
             for column in columns if column.kind is not Kind.PERCENT}
    if any(column.kind is Kind.PERCENT for column in columns):
        share = cell_text(COLUMNS["%flops"], row, view)
        if "flops" in parts:
            parts["flops"] += f" ({share})"
        else:
            parts["%flops"] = f"{share} of FLOPs"
    head = f"{row.name} ({row.type})" if row.name else row.type
    if not ran:
        head += f" {NOT_CALLED}"
    text = " · ".join(parts.values())
    return f"{head}  {text}" if text else head


def rich_tree(report: Viewable, columns: str | Sequence[str] | None = None,
              max_depth: int | None = None) -> Tree:
    """The module tree down to ``max_depth`` (root = 0); uncalled modules dimmed and marked."""
    view = as_view(report)
    chosen = _columns(view, columns)
    branches: dict[int, Tree] = {}
    root: Tree | None = None
    for index, row in enumerate(view.rows):
        if max_depth is not None and row.depth > max_depth:
            continue
        style = "" if row.name in view.ran else "dim"
        label = node_label(row, view, chosen, row.name in view.ran)
        parent = view.parents[index]
        while parent is not None and parent not in branches:
            parent = view.parents[parent]
        if parent is None:
            root = Tree(label, style=style, guide_style="dim")
            branches[index] = root
        else:
            branches[index] = branches[parent].add(label, style=style)
    assert root is not None, "a report always has its root module"
    return root


def tree_view(report: Viewable, columns: str | Sequence[str] | None = None,
              max_depth: int | None = None) -> Table:
    """The tree in the report's frame (what ran, totals, unsupported ops, notes)."""
    view = as_view(report)
    return report_view(view, rich_tree(view, columns, max_depth), "")


def render_tree(report: Viewable, columns: str | Sequence[str] | None = None,
                max_depth: int | None = None, width: int | None = None) -> str:
    """The tree view as plain text (no colour); ``width=None`` never wraps a line."""
    return to_text(tree_view(report, columns, max_depth), width)
