"""A :class:`~flopwise.diff.ReportDiff` as a text table, Markdown or JSON.

Changes carry their sign (``+1.23 M``, ``-512``), relative changes are percentages of the
``before`` figure (``new`` when it was zero), counts use SI prefixes and bytes IEC prefixes,
all through :mod:`flopwise.render.units`.

>>> from flopwise.diff import Delta
>>> signed_count(1_234_567), signed_count(-512), signed_bytes(3 * 1024**2), relative(Delta(50, 75))
('+1.23 M', '-512', '+3.00 MiB', '+50.0%')
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence

from rich import box
from rich.console import Console
from rich.table import Table

from flopwise.diff import Delta, ReportDiff
from flopwise.render.units import format_bytes, format_count, format_percent
from flopwise.render.view import label

__all__ = [
    "signed_count",
    "signed_bytes",
    "relative",
    "total_rows",
    "module_rows",
    "render_diff_text",
    "render_diff_markdown",
    "render_diff_json",
]

_LABELS = {"params": "params", "macs": "MACs", "flops": "FLOPs", "bytes": "bytes moved",
           "peak_memory": "peak memory"}
_MODULE_HEADERS = ("module", "status", "type", "Δ params", "Δ MACs", "Δ FLOPs", "Δ bytes (B)",
                   "FLOPs after", "Δ FLOPs %")
_MODULE_NUMERIC = (False, False, False, True, True, True, True, True, True)
_TOTAL_HEADERS = ("total", "before", "after", "change", "change %")


def _signed(text: str, value: int) -> str:
    return f"+{text}" if value > 0 else text


def signed_count(value: int) -> str:
    """A change of a count, with its sign and SI prefix."""
    return _signed(format_count(value), value)


def signed_bytes(value: int) -> str:
    """A change of bytes, with its sign and IEC prefix."""
    return _signed(format_bytes(value), value)


def relative(delta: Delta) -> str:
    """The change as a signed percentage of ``before``; ``new`` from zero."""
    if delta.change == 0:
        return "0.0%"
    if not delta.before:
        return "new"
    return _signed(format_percent(delta.change, delta.before), delta.change)


def _text_of(metric: str) -> tuple[Callable[[int], str], Callable[[int], str]]:
    if metric in ("bytes", "peak_memory"):
        return format_bytes, signed_bytes
    return format_count, signed_count


def total_rows(diff: ReportDiff) -> list[tuple[str, ...]]:
    """``(total, before, after, change, change %)`` per compared figure."""
    rows: list[tuple[str, ...]] = []
    for metric, delta in diff.totals.items():
        plain, signed = _text_of(metric)
        label = f"FLOPs ({diff.convention})" if metric == "flops" else _LABELS.get(metric, metric)
        rows.append((label, plain(delta.before), plain(delta.after), signed(delta.change),
                     relative(delta)))
    return rows


def module_rows(diff: ReportDiff, top: int | None = None) -> list[tuple[str, ...]]:
    """One row per listed module (see the headers of :func:`render_diff_text`)."""
    chosen = diff.modules if top is None else diff.modules[:top]
    return [(label(m.name), m.status.value, m.type, signed_count(m.params.change),
             signed_count(m.macs.change), signed_count(m.flops.change),
             signed_bytes(m.bytes.change), format_count(m.flops.after), relative(m.flops))
            for m in chosen]


def _headline(diff: ReportDiff) -> str:
    return f"flopwise diff: {diff.before} -> {diff.after} (FLOPs: {diff.convention})"


def _summary(diff: ReportDiff, shown: int) -> str:
    listed = (f"{len(diff.changed)} changed, {len(diff.added)} added, {len(diff.removed)} "
              f"removed, {diff.unchanged} unchanged")
    more = f"; the first {shown} shown" if shown < len(diff.modules) else ""
    sort = _LABELS.get(diff.sort, diff.sort)
    return f"Modules ({listed}; largest {sort} change first{more})"


def _table(title: str, headers: Sequence[str], numeric: Sequence[bool],
           rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False,
                  header_style="bold", title_style="bold")
    for header, is_number in zip(headers, numeric):
        table.add_column(header, justify="right" if is_number else "left", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    return table


def render_diff_text(diff: ReportDiff, top: int | None = None, width: int | None = None) -> str:
    """The totals and the module changes as plain text tables (no colour)."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width or 100_000, color_system=None, no_color=True,
                      force_terminal=False, soft_wrap=False, emoji=False, highlight=False,
                      markup=False)
    console.print(_headline(diff))
    console.print()
    console.print(_table("Totals", _TOTAL_HEADERS, (False, True, True, True, True),
                         total_rows(diff)))
    rows = module_rows(diff, top)
    if rows:
        console.print(_table(_summary(diff, len(rows)), _MODULE_HEADERS, _MODULE_NUMERIC, rows))
    else:
        console.print("Modules: every module has the same figures in both reports.")
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    return "\n".join(lines).strip("\n") + "\n"


def _md(headers: Sequence[str], numeric: Sequence[bool],
        rows: Sequence[Sequence[str]]) -> list[str]:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
    return lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


def render_diff_markdown(diff: ReportDiff, top: int | None = None) -> str:
    """The diff as Markdown (for a pull-request comment)."""
    lines = [f"## {_headline(diff)}", "", "### Totals", ""]
    lines += _md(_TOTAL_HEADERS, (False, True, True, True, True), total_rows(diff))
    rows = module_rows(diff, top)
    lines += ["", f"### {_summary(diff, len(rows))}", ""]
    if rows:
        lines += _md(_MODULE_HEADERS, _MODULE_NUMERIC, rows)
    else:
        lines.append("Every module has the same figures in both reports.")
    return "\n".join(lines) + "\n"


def render_diff_json(diff: ReportDiff, top: int | None = None) -> str:
    """The diff's JSON form (:meth:`ReportDiff.to_dict`), modules cut to ``top`` when given."""
    data = diff.to_dict()
    if top is not None:
        data["modules"] = data["modules"][:top]
    return json.dumps(data, indent=2)
