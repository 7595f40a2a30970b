"""The result of a profile: typed totals, phases, the module tree, the op table, typed
sections, and a versioned JSON form. Costs are stored raw; the report's convention turns them
into FLOPs.

>>> import torch, flopwise
>>> report = flopwise.profile(torch.nn.Linear(4, 3), torch.randn(2, 4))
>>> report.total.flops, report.using("macs").total.flops, report.using("exact").total.flops
(48, 24, 48)

Sections (:mod:`flopwise.schema`) are attached by methods that return a new report; the
report they were called on is left as it was:

>>> on_h100 = report.with_roofline("h100-sxm")
>>> report.roofline is None, on_h100.roofline.hardware_id, list(on_h100.sections)
(True, 'h100-sxm', ['roofline'])
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from flopwise.capture.events import OpEvent, Phase, Status
from flopwise.compat.traced import TracedFlops
from flopwise.conventions import Convention, get_convention
from flopwise.formulas.spec import ZERO_COST, Cost
from flopwise.records import ModuleRow, OpRow, RunInfo, Totals
from flopwise.schema import SCHEMA_VERSION, key_of
from flopwise.tree import ModuleNode, ModuleTree

if TYPE_CHECKING:
    from flopwise.explain import Explanation
    from flopwise.hardware.catalogue import Accelerator
    from flopwise.hardware.estimate import RooflineEstimate
    from flopwise.memory.report import MemoryReport
    from flopwise.timing import Progress, Timing

__all__ = ["Report", "Totals", "ModuleRow", "OpRow", "RunInfo", "SCHEMA_VERSION"]

S = TypeVar("S")


class Report:
    """What a model cost in one profile run, under one convention.

    Use :meth:`using` to see the same run under another convention (no re-run).
    """

    def __init__(
        self,
        *,
        tree: ModuleTree,
        events: tuple[OpEvent, ...],
        convention: Convention | str,
        run: RunInfo,
        param_bytes: dict[str, int],
        buffer_bytes: dict[str, int],
        decomposed: dict[str, int],
        formula_errors: dict[str, str],
        sections: Iterable[Any] = (),
    ) -> None:
        self.tree = tree
        self.events = events
        self.convention = get_convention(convention)
        self.run = run
        self.param_bytes = dict(param_bytes)
        self.buffer_bytes = dict(buffer_bytes)
        self.decomposed = dict(decomposed)
        self.formula_errors = dict(formula_errors)
        self._sections = MappingProxyType({key_of(section): section for section in sections})
        self._traced: TracedFlops | None = None

    # -- conventions -------------------------------------------------------------------------
    def using(self, convention: Convention | str) -> Report:
        """The same run under another convention (nothing is re-run)."""
        return Report(
            tree=self.tree, events=self.events, convention=convention, run=self.run,
            param_bytes=self.param_bytes, buffer_bytes=self.buffer_bytes,
            decomposed=self.decomposed, formula_errors=self.formula_errors,
            sections=self._sections.values(),
        )

    def explain(self, other: Convention | str) -> Explanation:
        """Why ``other``'s total differs from this convention's: the difference split by op
        family, op and module (:mod:`flopwise.explain`)."""
        from flopwise.explain import explain

        return explain(self, get_convention(other).name)

    def flops_of(self, cost: Cost) -> int:
        return self.convention.flops(cost)

    def traced(self) -> TracedFlops | None:
        """Per-event FLOPs of a tool convention (``fvcore``, ``thop``); None for the others."""
        if self.convention.per_event and self._traced is None:
            self._traced = TracedFlops.of(self.convention, self.events, self.tree)
        return self._traced if self.convention.per_event else None

    def _flops(self, cost: Cost, node: str, inclusive: bool = True,
               phase: Phase | None = None) -> int:
        traced = self.traced()
        if traced is None:
            return self.flops_of(cost)
        return traced.module_flops(node, inclusive, phase)

    # -- totals ------------------------------------------------------------------------------
    def _totals(self, cost: Cost, params: int = 0, trainable: int = 0,
                flops: int | None = None) -> Totals:
        return Totals(cost.macs, self.flops_of(cost) if flops is None else flops,
                      cost.bytes_read or 0, cost.bytes_written or 0, params, trainable)

    @property
    def total(self) -> Totals:
        """Every phase that ran, with the model's parameter counts."""
        root = self.tree.root
        cost = root.inclusive_total()
        return self._totals(cost, root.params, root.trainable_params, self._flops(cost, ""))

    @property
    def phases(self) -> dict[str, Totals]:
        """Totals per phase that ran (``forward``, ``backward``, ``optimizer``)."""
        root = self.tree.root
        return {phase.value: self._totals(cost, flops=self._flops(cost, "", phase=phase))
                for phase, cost in
                sorted(root.inclusive_cost.items(), key=lambda item: list(Phase).index(item[0]))}

    @property
    def params(self) -> int:
        return self.tree.root.params

    # -- sections ----------------------------------------------------------------------------
    @property
    def sections(self) -> Mapping[str, Any]:
        """The attached sections by JSON key, in the order they were attached (read-only)."""
        return self._sections

    def section(self, kind: type[S]) -> S | None:
        """The attached section of type ``kind`` (``None`` when there is none)."""
        found = self._sections.get(getattr(kind, "KEY", ""))
        return found if isinstance(found, kind) else None

    def with_section(self, section: Any) -> Report:
        """This report with ``section`` attached (in the place of one of the same key)."""
        sections = {**self._sections, key_of(section): section}
        return Report(
            tree=self.tree, events=self.events, convention=self.convention, run=self.run,
            param_bytes=self.param_bytes, buffer_bytes=self.buffer_bytes,
            decomposed=self.decomposed, formula_errors=self.formula_errors,
            sections=sections.values(),
        )

    @property
    def memory(self) -> MemoryReport | None:
        """The run's memory (``None`` with ``memory=False``)."""
        return self._sections.get("memory")

    @property
    def roofline(self) -> RooflineEstimate | None:
        """The roofline estimate attached by :meth:`with_roofline`, if any."""
        return self._sections.get("roofline")

    @property
    def timing(self) -> Timing | None:
        """The measured latency attached by :meth:`with_timing`, if any."""
        return self._sections.get("timing")

    def with_roofline(self, hardware: Accelerator | str, *, compute_efficiency: float = 1.0,
                      memory_efficiency: float = 1.0) -> Report:
        """This report with its roofline estimate on ``hardware`` (a catalogue id, a
        ``bench-device`` profile file or an :class:`~flopwise.hardware.Accelerator`)."""
        from flopwise.hardware import get_accelerator
        from flopwise.hardware.estimate import estimate_roofline

        device = get_accelerator(hardware) if isinstance(hardware, str) else hardware
        return self.with_section(estimate_roofline(
            self, device, compute_efficiency=compute_efficiency,
            memory_efficiency=memory_efficiency))

    def with_timing(self, model: Any, inputs: Any = (), kwargs: Mapping[str, Any] | None = None,
                    *, warmup: int = 3, repeats: int = 10,
                    hardware: Accelerator | str | None = None,
                    progress: Progress | None = None) -> Report:
        """This report with the measured latency of ``model`` on ``inputs`` (run for real,
        :func:`~flopwise.timing.measure_latency`; forward and backward as the report was made);
        with ``hardware``, each module's achieved FLOP/s as a share of its peak."""
        from flopwise.hardware import get_accelerator
        from flopwise.timing import annotate_timing, measure_latency

        device = get_accelerator(hardware) if isinstance(hardware, str) else hardware
        timing = measure_latency(model, inputs, kwargs, backward=self.run.backward,
                                 warmup=warmup, repeats=repeats, progress=progress)
        return self.with_section(annotate_timing(timing, self, device))

    @property
    def comm(self) -> Any:
        """This rank's collectives, a :class:`~flopwise.distributed.CommReport` (``None``
        unless ``torch.distributed`` was initialised for the run)."""
        return self._sections.get("comm")

    @property
    def trainable_params(self) -> int:
        return self.tree.root.trainable_params

    # -- tables ------------------------------------------------------------------------------
    def _row(self, node: ModuleNode) -> ModuleRow:
        inclusive, own = node.inclusive_total(), node.self_total()
        return ModuleRow(
            name=node.name, type=node.type, depth=node.depth, calls=node.calls,
            params=node.params, trainable_params=node.trainable_params,
            macs=inclusive.macs, flops=self._flops(inclusive, node.name),
            self_macs=own.macs, self_flops=self._flops(own, node.name, inclusive=False),
            bytes_read=inclusive.bytes_read or 0, bytes_written=inclusive.bytes_written or 0,
            output_bytes=node.output_bytes,
            phase_flops={phase.value: self._flops(cost, node.name, phase=phase)
                         for phase, cost in node.inclusive_cost.items()},
            ran=node.ran,
        )

    def modules(self, max_depth: int | None = None) -> list[ModuleRow]:
        """Module rows in tree order (parents first), down to ``max_depth`` (root = 0)."""
        return [self._row(node) for node in self.tree.walk(max_depth)]

    def module(self, name: str) -> ModuleRow:
        """The row of one module by its state_dict-style name (root: ``""``)."""
        return self._row(self.tree.nodes[name])

    def ops(self, phase: Phase | str | None = None) -> list[OpRow]:
        """One row per operator overload, largest FLOPs first."""
        wanted = None if phase is None else Phase(phase)
        totals: dict[str, Cost] = {}
        calls: Counter[str] = Counter()
        status: dict[str, str] = {}
        for event in self.events:
            if wanted is not None and event.phase is not wanted:
                continue
            cost = totals.get(event.op, ZERO_COST)
            totals[event.op] = cost + event.cost
            calls[event.op] += 1
            status[event.op] = event.status.value
        traced = self.traced()
        rows = [OpRow(op, status[op], calls[op], cost.macs,
                      self.flops_of(cost) if traced is None else traced.op_flops(op, wanted),
                      cost.bytes_read or 0, cost.bytes_written or 0)
                for op, cost in totals.items()]
        return sorted(rows, key=lambda r: (-r.flops, -r.macs, r.op))

    @property
    def unsupported(self) -> dict[str, int]:
        """Ops with no formula and no decomposition, with their call counts."""
        return dict(sorted(Counter(
            e.op for e in self.events if e.status is Status.UNSUPPORTED).items()))

    def events_of(self, module: str | None = None, phase: Phase | str | None = None,
                  op: str | None = None) -> list[OpEvent]:
        """The raw events, filtered by module name, phase and op (overload or packet prefix)."""
        wanted = None if phase is None else Phase(phase)
        return [e for e in self.events
                if (module is None or e.module == module)
                and (wanted is None or e.phase is wanted)
                and (op is None or e.op == op or e.op.startswith(op + "."))]

    # -- export ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON form (``schema`` 2); every count is an int."""
        total = self.total
        data: dict[str, Any] = {
            "schema": SCHEMA_VERSION,
            "convention": self.convention.name,
            "convention_manifest": self.convention.manifest(),
            "run": self.run.to_dict(),
            "total": {
                "params": total.params, "trainable_params": total.trainable_params,
                "macs": total.macs, "flops": total.flops,
                "bytes_read": total.bytes_read, "bytes_written": total.bytes_written,
            },
            "phases": {name: _totals_dict(t) for name, t in self.phases.items()},
            "modules": [_module_dict(row) for row in self.modules()],
            "ops": [vars(row) for row in self.ops()],
            "unsupported": self.unsupported,
            "decomposed": dict(sorted(self.decomposed.items())),
            "parameters": {
                "total": total.params, "trainable": total.trainable_params,
                "param_bytes_by_dtype": dict(sorted(self.param_bytes.items())),
                "buffer_bytes_by_dtype": dict(sorted(self.buffer_bytes.items())),
            },
        }
        if self.formula_errors:
            data["formula_errors"] = dict(self.formula_errors)
        for key, section in self._sections.items():
            data[key] = section.to_dict()
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    # -- display -----------------------------------------------------------------------------
    def __str__(self) -> str:
        from flopwise.render.table import render_text

        return render_text(self)

    def __repr__(self) -> str:
        t = self.total
        return (f"<flopwise.Report {self.run.model}: params={t.params} macs={t.macs} "
                f"flops={t.flops} convention={self.convention.name}>")

    def __rich__(self) -> Any:
        from flopwise.render.table import rich_table

        return rich_table(self)

    def to_html(self, title: str | None = None) -> str:
        """One self-contained HTML page (works offline) with the interactive module table,
        charts, unsupported ops and the convention manifest (:mod:`flopwise.render.html`)."""
        from flopwise.render.html import render_html

        return render_html(self, title=title)

    def _repr_html_(self) -> str:
        """Jupyter's display: the totals and the module table as static HTML."""
        from flopwise.render.html import render_html_table

        return render_html_table(self)


def _totals_dict(t: Totals) -> dict[str, int]:
    return {"macs": t.macs, "flops": t.flops, "bytes_read": t.bytes_read,
            "bytes_written": t.bytes_written}


def _module_dict(row: ModuleRow) -> dict[str, Any]:
    return {
        "name": row.name, "type": row.type, "depth": row.depth, "calls": row.calls,
        "called": row.called, "params": row.params, "trainable_params": row.trainable_params,
        "macs": row.macs, "flops": row.flops, "self_macs": row.self_macs,
        "self_flops": row.self_flops, "bytes_read": row.bytes_read,
        "bytes_written": row.bytes_written, "output_bytes": row.output_bytes,
        "phase_flops": row.phase_flops,
    }


def summed(events: Iterable[OpEvent]) -> Cost:
    """The sum of the events' raw costs."""
    total = ZERO_COST
    for event in events:
        total = total + event.cost
    return total
