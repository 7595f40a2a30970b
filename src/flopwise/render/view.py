"""One read-only view of a report, the only thing every renderer reads.

A :class:`ReportView` is built from a live :class:`~flopwise.Report` (:meth:`ReportView.of`) or
from its JSON form, a dict or a saved file of schema 1 or 2 (:meth:`ReportView.load`). Either
way it offers the same records (:mod:`flopwise.records`): totals, phases, module rows in tree
order, op rows, the run, the convention, parameter bytes by dtype, unsupported and decomposed
ops, the typed sections (:mod:`flopwise.schema`) and their JSON. Rows and sections are read
when first asked for, so a renderer pays only for what it shows, and a view loaded from a file
imports no torch until a renderer asks for a typed section that needs it.

Helpers that several renderers share live here once: labels (``(root)``, ``(not called)``), the
run line, bytes by dtype, each module's parent and own (self) share of an inclusive figure, the
largest modules by a figure, and the figures the summaries need (peak memory, latencies, the
roofline's device).

>>> data = {"schema": 1, "convention": "macs", "run": {"model": "Tiny", "mode": "meta"},
...         "total": {"params": 10, "macs": 24, "flops": 24, "bytes_read": 128,
...                   "bytes_written": 24},
...         "modules": [{"name": "", "type": "Block", "depth": 0, "params": 10, "flops": 24},
...                     {"name": "fc", "type": "Linear", "depth": 1, "params": 6, "flops": 24}]}
>>> view = ReportView.load(data)
>>> view.total.flops, [label(row.name) for row in view.modules()], view.own("params")
(24, ['(root)', 'fc'], [4, 6])
>>> run_line(view)
'Tiny · meta · no tensor inputs · forward'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from flopwise.errors import UsageError
from flopwise.records import ModuleRow, OpRow, RunInfo, Totals
from flopwise.render.units import format_bytes
from flopwise.saved import (
    RooflineDevice,
    as_dict,
    comm_bytes,
    estimated_latency_s,
    load_report,
    measured_latency_s,
    peak_memory_bytes,
    roofline_device,
)
from flopwise.schema import CORE_KEYS, SCHEMA_VERSION, read_sections

__all__ = [
    "ReportView",
    "Viewable",
    "as_view",
    "ROOT_LABEL",
    "NOT_CALLED",
    "label",
    "short_name",
    "shapes_text",
    "passes_text",
    "run_line",
    "by_dtype",
]

ROOT_LABEL = "(root)"
NOT_CALLED = "(not called)"

# the parts of peak memory a summary names, in the order it names them
_MEMORY_PARTS = ("params_bytes", "activation_peak_bytes", "saved_for_backward_bytes",
                 "grads_bytes", "optimizer_bytes")

#: What every renderer accepts: a :class:`ReportView`, a live :class:`~flopwise.Report`, its
#: ``to_dict()`` form, or the path of a saved report (see :func:`as_view`).
Viewable = Any


@dataclass(frozen=True)
class ReportView:
    """What every renderer reads of one report (see the module docstring); never changes."""

    schema: int
    convention: str
    convention_summary: str
    convention_manifest: Mapping[str, Any]
    run: RunInfo
    total: Totals
    phases: Mapping[str, Totals]
    param_bytes: Mapping[str, int]
    buffer_bytes: Mapping[str, int]
    unsupported: Mapping[str, int]
    decomposed: Mapping[str, int]
    formula_errors: Mapping[str, str]
    run_data: Mapping[str, Any]
    _rows: Callable[[], Sequence[ModuleRow]] = field(repr=False, compare=False)
    _ops: Callable[[], Sequence[OpRow]] = field(repr=False, compare=False)
    _sections: Callable[[], Mapping[str, Any]] = field(repr=False, compare=False)
    _section_data: Callable[[], Mapping[str, Mapping[str, Any]]] = field(repr=False,
                                                                       compare=False)

    # -- building ------------------------------------------------------------------------------
    @classmethod
    def of(cls, report: Any) -> ReportView:
        """The view of a live :class:`~flopwise.Report` (rows computed when first read)."""
        convention = report.convention
        return cls(
            schema=SCHEMA_VERSION, convention=convention.name,
            convention_summary=convention.summary,
            convention_manifest=convention.manifest(), run=report.run, total=report.total,
            phases=report.phases, param_bytes=dict(report.param_bytes),
            buffer_bytes=dict(report.buffer_bytes), unsupported=report.unsupported,
            decomposed=dict(sorted(report.decomposed.items())),
            formula_errors=dict(report.formula_errors), run_data=report.run.to_dict(),
            _rows=lambda: tuple(report.modules()), _ops=lambda: tuple(report.ops()),
            _sections=lambda: report.sections,
            _section_data=lambda: {key: section.to_dict()
                                   for key, section in report.sections.items()},
        )

    @classmethod
    def load(cls, source: str | Path | Mapping[str, Any], name: str = "report") -> ReportView:
        """The view of a saved report: a path to its JSON file, or the loaded dict (schema 1
        or 2). Raises :class:`~flopwise.UsageError` for anything that is not a report (naming
        the file, or ``name`` for a dict)."""
        data = load_report(source) if isinstance(source, (str, Path)) else as_dict(source, name)
        run = data.get("run") or {}
        manifest = data.get("convention_manifest") or {"name": data.get("convention", "")}
        parameters = data.get("parameters") or {}
        return cls(
            schema=int(data.get("schema") or 0), convention=str(data.get("convention", "")),
            convention_summary=str(manifest.get("summary", "")), convention_manifest=manifest,
            run=_run(run), total=_totals(data["total"]),
            phases={name: _totals(t) for name, t in (data.get("phases") or {}).items()},
            param_bytes=dict(parameters.get("param_bytes_by_dtype") or {}),
            buffer_bytes=dict(parameters.get("buffer_bytes_by_dtype") or {}),
            unsupported=dict(data.get("unsupported") or {}),
            decomposed=dict(sorted((data.get("decomposed") or {}).items())),
            formula_errors=dict(data.get("formula_errors") or {}), run_data=run,
            _rows=lambda: tuple(_module_row(row) for row in data["modules"]),
            _ops=lambda: tuple(_op_row(op) for op in data.get("ops") or []),
            _sections=lambda: read_sections(data),
            _section_data=lambda: {key: value for key, value in data.items()
                                   if key not in CORE_KEYS and isinstance(value, Mapping)},
        )

    # -- rows ----------------------------------------------------------------------------------
    @cached_property
    def rows(self) -> tuple[ModuleRow, ...]:
        """Every module's row in tree order (parents first; the root, named ``""``, first)."""
        return tuple(self._rows())

    def modules(self, max_depth: int | None = None) -> list[ModuleRow]:
        """Module rows in tree order, down to ``max_depth`` (root = 0)."""
        return [row for row in self.rows if max_depth is None or row.depth <= max_depth]

    def ops(self) -> list[OpRow]:
        """One row per operator overload, largest FLOPs first."""
        return list(self.op_rows)

    @cached_property
    def op_rows(self) -> tuple[OpRow, ...]:
        return tuple(self._ops())

    @cached_property
    def ran(self) -> frozenset[str]:
        """Names of the modules that ran: called themselves, or holding one that was called
        (containers such as ``ModuleList`` are iterated, never called). The others are marked
        ``(not called)``."""
        return frozenset(row.name for row in self.rows if row.ran)

    @cached_property
    def parents(self) -> tuple[int | None, ...]:
        """For each row, the index of its nearest listed ancestor (None for the root)."""
        index = {row.name: i for i, row in enumerate(self.rows)}
        found: list[int | None] = []
        for row in self.rows:
            name, parent = row.name, None
            while name:
                name = name.rpartition(".")[0]
                if name in index:
                    parent = index[name]
                    break
            found.append(parent)
        return tuple(found)

    @cached_property
    def leaves(self) -> frozenset[int]:
        """Indices of the rows no other row sits under."""
        return frozenset(range(len(self.rows))) - {p for p in self.parents if p is not None}

    def own(self, key: str) -> list[int]:
        """Each row's own share of an inclusive figure (``params``, ``bytes_read``, ...): itself
        minus its children, at least 0 (a parameter shared between modules is counted once, in
        the parent, so a child can hold more than its parent's remainder)."""
        own = [int(getattr(row, key)) for row in self.rows]
        for i, parent in enumerate(self.parents):
            if parent is not None:
                own[parent] -= int(getattr(self.rows[i], key))
        return [max(0, value) for value in own]

    def own_bytes(self) -> list[int]:
        """Each row's own bytes moved (read + written, children excluded)."""
        return [r + w for r, w in zip(self.own("bytes_read"), self.own("bytes_written"))]

    def top(self, values: Sequence[int], count: int) -> list[tuple[str, int]]:
        """``(label, value)`` of the ``count`` rows with the largest positive ``values`` (one
        value per row), ties in tree order."""
        ranked = sorted(((value, i) for i, value in enumerate(values) if value > 0),
                        key=lambda item: (-item[0], item[1]))
        return [(label(self.rows[i].name), value) for value, i in ranked[:count]]

    # -- sections ------------------------------------------------------------------------------
    @cached_property
    def sections(self) -> Mapping[str, Any]:
        """The typed sections by JSON key (unknown keys as :class:`~flopwise.schema.RawSection`)."""
        return self._sections()

    @cached_property
    def section_data(self) -> Mapping[str, Mapping[str, Any]]:
        """The JSON form of each section, by key, for renderers that list any section's figures."""
        return self._section_data()

    @property
    def memory(self) -> Any:
        return self.sections.get("memory")

    @property
    def roofline(self) -> Any:
        return self.sections.get("roofline")

    @property
    def timing(self) -> Any:
        return self.sections.get("timing")

    @cached_property
    def module_figures(self) -> dict[str, dict[str, Mapping[str, Any]]]:
        """Per-module figures of the sections: ``{section: {module name: {field: value}}}``,
        from each section's ``modules`` entry (an object keyed by module name, or a list of
        objects that each carry a ``name``)."""
        found: dict[str, dict[str, Mapping[str, Any]]] = {}
        for section, value in self.section_data.items():
            rows = value.get("modules")
            if isinstance(rows, Mapping):
                table = {str(name): fields for name, fields in rows.items()
                         if isinstance(fields, Mapping)}
            elif isinstance(rows, list):
                table = {str(row["name"]): row for row in rows
                         if isinstance(row, Mapping) and isinstance(row.get("name"), str)}
            else:
                continue
            if table:
                found[section] = table
        return found

    @property
    def comm_bytes(self) -> int | None:
        """``comm.comm_bytes`` (bytes this rank sends) when the report has a comm section."""
        return comm_bytes(self.section_data)

    @property
    def peak_memory_bytes(self) -> int | None:
        """``memory.peak_bytes`` when the report has a memory section."""
        return peak_memory_bytes(self.section_data)

    @property
    def peak_memory_parts(self) -> dict[str, int]:
        """The named parts of peak memory that are above zero (``params_bytes``,
        ``activation_peak_bytes``, ``saved_for_backward_bytes``, ``grads_bytes``,
        ``optimizer_bytes``), from the memory section."""
        memory = self.section_data.get("memory") or {}
        return {key: memory[key] for key in _MEMORY_PARTS
                if isinstance(memory.get(key), int) and memory[key] > 0}

    @property
    def estimated_rates(self) -> dict[str, float]:
        """The roofline's ``samples_per_s`` and ``tokens_per_s``, those it has."""
        roofline = self.section_data.get("roofline") or {}
        return {key: roofline[key] for key in ("samples_per_s", "tokens_per_s")
                if isinstance(roofline.get(key), (int, float))}

    @property
    def estimated_latency_s(self) -> float | None:
        """The roofline's estimated time of the whole run."""
        return estimated_latency_s(self.section_data)

    @property
    def measured_latency_s(self) -> float | None:
        """The measured wall time of the whole run (``--time``)."""
        return measured_latency_s(self.section_data)

    @property
    def roofline_device(self) -> RooflineDevice | None:
        """Peak FLOP/s and bandwidth of the roofline's device, when the report has one."""
        return roofline_device(self.section_data)


def as_view(report: Viewable, name: str = "report") -> ReportView:
    """A view of ``report``: a :class:`ReportView` as it is, a live report, its JSON form, or
    the path of a saved one (``name`` says which report an error is about)."""
    if isinstance(report, ReportView):
        return report
    if isinstance(report, (Mapping, str, Path)):
        return ReportView.load(report, name)
    if hasattr(report, "tree") and hasattr(report, "to_dict"):
        return ReportView.of(report)
    raise UsageError(f"{name}: expected a flopwise Report, its to_dict() form or a saved "
                     f"report's path, got {type(report).__name__}")


# -- reading the JSON form ---------------------------------------------------------------------
def _int(data: Mapping[str, Any], key: str) -> int:
    return int(data.get(key, 0) or 0)


def _totals(data: Mapping[str, Any]) -> Totals:
    return Totals(_int(data, "macs"), _int(data, "flops"), _int(data, "bytes_read"),
                  _int(data, "bytes_written"), _int(data, "params"),
                  _int(data, "trainable_params"))


def _run(data: Mapping[str, Any]) -> RunInfo:
    return RunInfo(
        model=str(data.get("model", "model")), mode=str(data.get("mode", "")),
        device=str(data.get("device", "")),
        inputs=tuple(tuple(int(d) for d in shape) for shape in data.get("inputs") or ()),
        backward=bool(data.get("backward")), optimizer=data.get("optimizer"),
        torch_version=str(data.get("torch", "")), flopwise_version=str(data.get("flopwise", "")))


def _module_row(data: Mapping[str, Any]) -> ModuleRow:
    return ModuleRow(
        name=str(data["name"]), type=str(data.get("type", "")), depth=_int(data, "depth"),
        calls=_int(data, "calls"), params=_int(data, "params"),
        trainable_params=_int(data, "trainable_params"), macs=_int(data, "macs"),
        flops=_int(data, "flops"), self_macs=_int(data, "self_macs"),
        self_flops=_int(data, "self_flops"), bytes_read=_int(data, "bytes_read"),
        bytes_written=_int(data, "bytes_written"), output_bytes=_int(data, "output_bytes"),
        phase_flops={str(k): int(v) for k, v in (data.get("phase_flops") or {}).items()},
        ran=bool(data.get("called", True)))


def _op_row(data: Mapping[str, Any]) -> OpRow:
    return OpRow(str(data.get("op", "")), str(data.get("status", "")), _int(data, "calls"),
                 _int(data, "macs"), _int(data, "flops"), _int(data, "bytes_read"),
                 _int(data, "bytes_written"))


# -- shared labels -----------------------------------------------------------------------------
def label(name: str) -> str:
    """A module's name as shown: the root (``""``) as ``(root)``."""
    return name or ROOT_LABEL


def short_name(name: str, limit: int) -> str:
    """``name`` cut from the left to ``limit`` characters (``…`` marks the cut).

    >>> short_name("layers.11.attention.output", 12)
    '…tion.output'
    """
    return name if len(name) <= limit else "…" + name[-(limit - 1):]


def shapes_text(inputs: Sequence[Sequence[int]]) -> str:
    """``inputs [4, 8], [4]``, or ``no tensor inputs``."""
    if not inputs:
        return "no tensor inputs"
    return "inputs " + ", ".join(f"[{', '.join(map(str, shape))}]" for shape in inputs)


def passes_text(run: RunInfo) -> str:
    """``forward``, ``forward + backward``, ``forward + backward + adamw step``."""
    passes = ["forward"]
    if run.backward:
        passes.append("backward")
    if run.optimizer:
        passes.append(f"{run.optimizer} step")
    return " + ".join(passes)


def run_line(view: ReportView) -> str:
    """What ran: the model, how (real/meta/fake, device), its inputs and the passes."""
    run = view.run
    where = "meta" if run.mode == "meta" else f"{run.mode} on {run.device}".strip()
    parts = [run.model] + ([where] if where and where != "on" else [])
    return " · ".join([*parts, shapes_text(run.inputs), passes_text(run)])


def by_dtype(sizes: Mapping[str, int]) -> str:
    """``1.00 KiB float32 + 64 B int64``: bytes per dtype, dtypes in name order."""
    return " + ".join(f"{format_bytes(size)} {dtype}" for dtype, size in sorted(sizes.items()))
