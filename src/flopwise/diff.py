"""Differences between two reports of one model (two commits, two sizes, two configurations).

:func:`diff_reports` matches modules by name and returns, for the totals and for every module,
the change in parameters, MACs, FLOPs and bytes moved (read + written), with the modules that
were added or removed; modules are sorted by the largest absolute change. Reports are read
through :class:`~flopwise.render.view.ReportView`, live or saved alike (a saved one needs no
torch). FLOPs are only comparable under
one convention, so reports of different conventions (or schema versions) are refused.

>>> def report(width):
...     modules = [{"name": "", "type": "MLP", "params": 10 * width, "macs": 40 * width,
...                 "flops": 80 * width, "bytes_read": 100, "bytes_written": 20},
...                {"name": "fc", "type": "Linear", "params": 10 * width, "macs": 40 * width,
...                 "flops": 80 * width, "bytes_read": 100, "bytes_written": 20}]
...     return {"schema": 1, "convention": "standard", "modules": modules,
...             "total": {k: v for k, v in modules[0].items() if k not in ("name", "type")}}
>>> change = diff_reports(report(16), report(32))
>>> change.totals["flops"].change, change.modules[0].name, change.modules[0].flops.relative
(1280, '', 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from flopwise.errors import UsageError
from flopwise.records import ModuleRow, Totals
from flopwise.render.view import ReportView, Viewable, as_view

__all__ = ["METRICS", "Status", "Delta", "ModuleDelta", "ReportDiff", "diff_reports"]

#: What is compared, in display order; ``bytes`` is bytes read + bytes written.
METRICS: tuple[str, ...] = ("params", "macs", "flops", "bytes")


class Status(str, Enum):
    """How a module differs between the two reports."""

    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"
    SAME = "same"


@dataclass(frozen=True)
class Delta:
    """One figure before and after."""

    before: int
    after: int

    @property
    def change(self) -> int:
        return self.after - self.before

    @property
    def relative(self) -> float | None:
        """``change / before``; None when there was nothing before."""
        return self.change / self.before if self.before else None

    def to_dict(self) -> dict[str, Any]:
        return {"before": self.before, "after": self.after, "change": self.change,
                "relative": self.relative}


@dataclass(frozen=True)
class ModuleDelta:
    """One module's changes; ``type`` reads ``A -> B`` when its class changed."""

    name: str
    type: str
    status: Status
    params: Delta
    macs: Delta
    flops: Delta
    bytes: Delta

    def delta(self, metric: str) -> Delta:
        return getattr(self, metric)  # type: ignore[no-any-return]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": self.type, "status": self.status.value}
        data.update({metric: self.delta(metric).to_dict() for metric in METRICS})
        return data


@dataclass(frozen=True)
class ReportDiff:
    """Totals and per-module changes from ``before`` to ``after``.

    ``modules`` holds the modules that changed, were added or removed (and, with
    ``include_unchanged``, the rest), largest absolute change of ``sort`` first.
    """

    before: str
    after: str
    convention: str
    sort: str
    totals: dict[str, Delta]
    modules: tuple[ModuleDelta, ...]
    unchanged: int

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.modules if m.status is Status.ADDED)

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.modules if m.status is Status.REMOVED)

    @property
    def changed(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.modules if m.status is Status.CHANGED)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``kind: "flopwise-diff"``, schema 1)."""
        return {
            "kind": "flopwise-diff", "schema": 1,
            "before": self.before, "after": self.after, "convention": self.convention,
            "sort": self.sort,
            "totals": {name: delta.to_dict() for name, delta in self.totals.items()},
            "added": list(self.added), "removed": list(self.removed),
            "changed": len(self.changed), "unchanged": self.unchanged,
            "modules": [module.to_dict() for module in self.modules],
        }


def _figures(row: ModuleRow | Totals) -> dict[str, int]:
    return {"params": row.params, "macs": row.macs, "flops": row.flops,
            "bytes": row.bytes_read + row.bytes_written}


def _label(view: ReportView, given: str | None, fallback: str) -> str:
    return given or str(view.run_data.get("model", fallback))


def diff_reports(before: Viewable, after: Viewable, *, sort: str = "flops",
                 before_label: str | None = None, after_label: str | None = None,
                 include_unchanged: bool = False) -> ReportDiff:
    """Compare two reports module by module (see the module's docstring).

    Args:
        before, after: live reports, their JSON form (``flopwise.saved.load_report``) or
            views of either (:class:`~flopwise.render.view.ReportView`).
        sort: the metric whose absolute change orders the modules (``params``, ``macs``,
            ``flops`` or ``bytes``); ties go to the largest change of any other metric.
        before_label, after_label: how the two sides are named (default: their model names).
        include_unchanged: also list modules whose figures are all equal.

    Raises :class:`~flopwise.UsageError` for an unknown ``sort``, or when the reports count
    FLOPs under different conventions.
    """
    if sort not in METRICS:
        raise UsageError(f"cannot sort a diff by {sort!r}; choose from: {', '.join(METRICS)}")
    first = as_view(before, before_label or "the first report")
    second = as_view(after, after_label or "the second report")
    name_a, name_b = _label(first, before_label, "before"), _label(second, after_label, "after")
    if first.convention != second.convention:
        raise UsageError(
            f"{name_a} counts FLOPs under the {first.convention!r} convention and "
            f"{name_b} under {second.convention!r}; FLOPs are not comparable across "
            "conventions: profile both with the same --convention (flopwise explain A B splits "
            "the difference of two conventions of one run)")
    totals = {metric: Delta(a, b) for metric, a, b in zip(
        METRICS, _figures(first.total).values(), _figures(second.total).values())}
    peaks = first.peak_memory_bytes, second.peak_memory_bytes
    if peaks[0] is not None and peaks[1] is not None:
        totals["peak_memory"] = Delta(peaks[0], peaks[1])
    sent = first.comm_bytes, second.comm_bytes
    if sent[0] is not None or sent[1] is not None:      # a schema-1 report sent nothing
        totals["comm_bytes"] = Delta(sent[0] or 0, sent[1] or 0)
    rows_a = {row.name: row for row in first.rows}
    rows_b = {row.name: row for row in second.rows}
    modules, unchanged = [], 0
    for name in list(rows_a) + [n for n in rows_b if n not in rows_a]:
        row_a, row_b = rows_a.get(name), rows_b.get(name)
        figures_a = _figures(row_a) if row_a is not None else dict.fromkeys(METRICS, 0)
        figures_b = _figures(row_b) if row_b is not None else dict.fromkeys(METRICS, 0)
        if row_a is None:
            status = Status.ADDED
        elif row_b is None:
            status = Status.REMOVED
        elif figures_a != figures_b:
            status = Status.CHANGED
        else:
            status = Status.SAME
        type_a = row_a.type if row_a is not None else ""
        type_b = row_b.type if row_b is not None else ""
        if status is Status.SAME and type_a == type_b:
            unchanged += 1
            if not include_unchanged:
                continue
        if row_a is not None and row_b is not None and type_a != type_b:
            status = Status.CHANGED
        kind = type_a if not type_b or type_a == type_b else type_b if not type_a \
            else f"{type_a} -> {type_b}"
        modules.append(ModuleDelta(name, kind, status, *(
            Delta(figures_a[m], figures_b[m]) for m in METRICS)))
    others = [m for m in METRICS if m != sort]
    modules.sort(key=lambda m: (-abs(m.delta(sort).change),
                                -max(abs(m.delta(o).change) for o in others), m.name))
    return ReportDiff(name_a, name_b, first.convention, sort, totals,
                      tuple(modules), unchanged)
