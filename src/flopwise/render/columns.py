"""The columns of a module table, shared by every renderer (text, rich, tree, CSV, Markdown).

A column has a key (what ``--columns`` names), a header that carries its unit, a kind that says
how its value becomes text (through :mod:`flopwise.render.units`), and a getter that reads one
:class:`~flopwise.records.ModuleRow` of a :class:`~flopwise.render.view.ReportView`. Counts are
shown with SI prefixes (K M G T) and bytes with IEC prefixes (KiB MiB GiB), so the header names
the unit and the value carries its own prefix.

>>> [c.key for c in parse_columns("name,flops,%flops")]
['name', 'flops', '%flops']
>>> COLUMNS["bytes_read"].header
'read (B)'
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from flopwise.errors import UsageError
from flopwise.records import ModuleRow
from flopwise.render.units import (
    format_bytes,
    format_count,
    format_number,
    format_percent,
    format_rate,
    format_seconds,
)
from flopwise.render.view import NOT_CALLED, ReportView, Viewable, as_view, label

__all__ = [
    "Kind",
    "Column",
    "COLUMNS",
    "DEFAULT_COLUMNS",
    "parse_columns",
    "default_columns",
    "ROOFLINE_COLUMNS",
    "TIMING_COLUMNS",
    "display_name",
    "cell_text",
    "cell_value",
]


class Kind(str, Enum):
    """How a column's value is written."""

    TEXT = "text"
    COUNT = "count"      # SI prefixes: 1.34 K, 4.09 G
    BYTES = "bytes"      # IEC prefixes: 1.32 KiB
    PERCENT = "percent"  # share of the report's total FLOPs
    SECONDS = "seconds"  # 1.20 ms, 35.00 µs
    SHARE = "share"      # a percentage the getter computed (of estimated or measured time)
    RATE = "rate"        # FLOP/s with an SI prefix
    RATIO = "ratio"      # a plain number: FLOPs per byte


@dataclass(frozen=True)
class Column:
    """One selectable column of the module table."""

    key: str
    header: str
    kind: Kind
    get: Callable[[ModuleRow, ReportView], int | float | str | None]
    help: str

    @property
    def label(self) -> str:
        """The header without its unit suffix, for inline use (``read`` for ``read (B)``)."""
        return self.header.removesuffix(" (B)")

    @property
    def numeric(self) -> bool:
        return self.kind is not Kind.TEXT


def _phase(phase: str) -> Callable[[ModuleRow, ReportView], int]:
    return lambda row, _report: row.phase_flops.get(phase, 0)


def _extra(section: str,
           read: Callable[[Any, Any], Any]) -> Callable[[ModuleRow, ReportView], Any]:
    """A getter over one module's entry of an extra section (``roofline``, ``timing``,
    ``memory``); ``None`` (shown as ``-``) when the report has no such section or entry."""
    def get(row: ModuleRow, view: ReportView) -> Any:
        whole = view.sections.get(section)
        if whole is None or not hasattr(whole, "module"):
            return None
        try:
            entry = whole.module(row.name)
        except KeyError:
            return None
        return read(entry, whole)
    return get


def _bound(entry: Any, _whole: Any) -> str | None:
    return entry.bound.value if entry.bound is not None else None


_ALL: tuple[Column, ...] = (
    Column("name", "module", Kind.TEXT, lambda row, _: row.name,
           "state_dict-style name, indented by depth; (root) is the model itself"),
    Column("type", "type", Kind.TEXT, lambda row, _: row.type, "the module's class"),
    Column("calls", "calls", Kind.COUNT, lambda row, _: row.calls, "forward calls"),
    Column("params", "params", Kind.COUNT, lambda row, _: row.params,
           "parameters (shared ones counted once)"),
    Column("trainable_params", "trainable", Kind.COUNT, lambda row, _: row.trainable_params,
           "parameters with requires_grad"),
    Column("macs", "MACs", Kind.COUNT, lambda row, _: row.macs,
           "multiply-accumulates, inclusive of children, every phase"),
    Column("flops", "FLOPs", Kind.COUNT, lambda row, _: row.flops,
           "FLOPs under the report's convention, inclusive of children, every phase"),
    Column("%flops", "% FLOPs", Kind.PERCENT, lambda row, _: row.flops,
           "share of the total FLOPs"),
    Column("self_macs", "self MACs", Kind.COUNT, lambda row, _: row.self_macs,
           "MACs of ops run directly by this module (children excluded)"),
    Column("self_flops", "self FLOPs", Kind.COUNT, lambda row, _: row.self_flops,
           "FLOPs of ops run directly by this module (children excluded)"),
    Column("forward_flops", "fwd FLOPs", Kind.COUNT, _phase("forward"),
           "FLOPs of the forward pass"),
    Column("backward_flops", "bwd FLOPs", Kind.COUNT, _phase("backward"),
           "FLOPs of the backward pass"),
    Column("optimizer_flops", "optim FLOPs", Kind.COUNT, _phase("optimizer"),
           "FLOPs of the optimizer step"),
    Column("bytes_read", "read (B)", Kind.BYTES, lambda row, _: row.bytes_read,
           "bytes read by the module's ops"),
    Column("bytes_written", "written (B)", Kind.BYTES, lambda row, _: row.bytes_written,
           "bytes written by the module's ops"),
    Column("output_bytes", "output (B)", Kind.BYTES, lambda row, _: row.output_bytes,
           "bytes of the module's forward outputs (activations)"),
    Column("est_time", "est. time", Kind.SECONDS,
           _extra("roofline", lambda m, _: m.time_s),
           "roofline estimate on --hardware, children included (standard-convention FLOPs)"),
    Column("%est_time", "% est.", Kind.SHARE,
           _extra("roofline", lambda m, whole: whole.share(m.time_s)),
           "share of the whole estimated time"),
    Column("bound", "bound", Kind.TEXT, _extra("roofline", _bound),
           "compute or memory: the bound of the ops taking most of the module's estimated time"),
    Column("intensity", "FLOP/B", Kind.RATIO,
           _extra("roofline", lambda m, _: m.intensity_flops_per_byte),
           "arithmetic intensity: standard-convention FLOPs per byte moved"),
    Column("time", "time", Kind.SECONDS, _extra("timing", lambda m, _: m.time_s),
           "measured forward wall time per run (--time; median), children included"),
    Column("%time", "% time", Kind.SHARE,
           _extra("timing", lambda m, whole: whole.share(m.time_s)),
           "share of the whole measured forward"),
    Column("flops_per_s", "FLOP/s", Kind.RATE, _extra("timing", lambda m, _: m.flops_per_s),
           "achieved: forward FLOPs (standard) over the measured time"),
    Column("%peak", "% peak", Kind.SHARE, _extra("timing", lambda m, _: m.peak_percent),
           "achieved FLOP/s as a share of the --hardware peak"),
    Column("comm_bytes", "comm (B)", Kind.BYTES, _extra("comm", lambda m, _: m.comm_bytes),
           "bytes this rank sends in collectives issued inside the module (children included)"),
    Column("saved_bytes", "saved (B)", Kind.BYTES,
           _extra("memory", lambda m, _: m.saved_for_backward_bytes),
           "bytes autograd saved for backward while the module ran (its own ops)"),
    Column("peak_live_bytes", "live peak (B)", Kind.BYTES,
           _extra("memory", lambda m, _: m.peak_live_bytes),
           "the most activation bytes alive at any forward op inside the module"),
)

COLUMNS: dict[str, Column] = {column.key: column for column in _ALL}

DEFAULT_COLUMNS: tuple[str, ...] = (
    "name", "type", "params", "macs", "flops", "%flops", "bytes_read", "bytes_written",
    "output_bytes",
)


ROOFLINE_COLUMNS: tuple[str, ...] = ("est_time", "%est_time", "bound", "intensity")
TIMING_COLUMNS: tuple[str, ...] = ("time", "%time", "flops_per_s")


def default_columns(view: ReportView) -> list[Column]:
    """The default columns; with more than one phase, FLOPs per phase follow the total; a
    roofline estimate, bytes sent in collectives or measured times add their columns at the end."""
    keys = list(DEFAULT_COLUMNS)
    phases = list(view.phases)
    if len(phases) > 1:
        at = keys.index("%flops") + 1
        keys[at:at] = [f"{phase}_flops" for phase in phases]
    if view.roofline is not None:
        keys += ROOFLINE_COLUMNS
    comm = view.sections.get("comm")
    if comm is not None and comm.comm_bytes:
        keys.append("comm_bytes")
    timing = view.timing
    if timing is not None:
        keys += TIMING_COLUMNS
        if timing.peak_percent is not None:
            keys.append("%peak")
    return [COLUMNS[key] for key in keys]


def parse_columns(columns: str | Sequence[str] | None,
                  view: Viewable | None = None) -> list[Column]:
    """Columns from ``"name,flops"`` or a list of keys; ``None`` gives the defaults.

    Unknown keys raise :class:`~flopwise.UsageError` naming the close matches and every key.
    """
    if columns is None:
        if view is None:
            return [COLUMNS[key] for key in DEFAULT_COLUMNS]
        return default_columns(as_view(view))
    keys = [key.strip() for key in (columns.split(",") if isinstance(columns, str) else columns)]
    keys = [key for key in keys if key]
    if not keys:
        raise UsageError(f"--columns is empty; choose from: {', '.join(COLUMNS)}")
    chosen = []
    for key in keys:
        column = COLUMNS.get(key.lower())
        if column is None:
            close = difflib.get_close_matches(key.lower(), COLUMNS, n=2)
            hint = f"did you mean {' or '.join(close)}? " if close else ""
            raise UsageError(f"unknown column {key!r}; {hint}choose from: {', '.join(COLUMNS)}")
        chosen.append(column)
    return chosen


def display_name(row: ModuleRow, ran: bool = True, indent: bool = True) -> str:
    """The name cell: indented by depth, the root as ``(root)``, modules that never ran marked."""
    name = label(row.name)
    if indent:
        name = "  " * row.depth + name
    return name if ran else f"{name} {NOT_CALLED}"


def cell_text(column: Column, row: ModuleRow, view: ReportView, ran: bool = True,
              indent: bool = True) -> str:
    """A cell as people read it: prefixed counts and bytes, percentages of the total."""
    if column.key == "name":
        return display_name(row, ran, indent)
    value = column.get(row, view)
    if value is None:
        return "-"
    if column.kind is Kind.TEXT:
        return str(value)
    if column.kind is Kind.SECONDS:
        return format_seconds(float(value))
    if column.kind is Kind.SHARE:
        return f"{float(value):.1f}%"
    if column.kind is Kind.RATE:
        return format_rate(float(value), "FLOP/s")
    if column.kind is Kind.RATIO:
        return f"{float(value):.1f}"
    if column.kind is Kind.BYTES:
        return format_bytes(int(value))
    if column.kind is Kind.PERCENT:
        return format_percent(int(value), view.total.flops)
    return format_count(int(value))


def cell_value(column: Column, row: ModuleRow, view: ReportView) -> str:
    """A cell for machines (CSV): exact integers, the percentage as a plain number."""
    value = column.get(row, view)
    if value is None:
        return ""
    if column.kind is Kind.TEXT:
        return str(value)
    if column.kind in (Kind.SECONDS, Kind.SHARE, Kind.RATE, Kind.RATIO):
        return f"{float(value):.6g}"
    if column.kind is Kind.PERCENT:
        total = view.total.flops
        return format_number(100.0 * int(value) / total, digits=4) if total else ""
    return format_number(int(value))
