"""The calibrated time model: a latency prediction from a report and measured tables.

The roofline (:mod:`flopwise.hardware.estimate`) is the ideal bound; this is the prediction.
For every recorded op (every phase that ran), with the tables of a
:class:`~flopwise.hardware.calibration.CalibrationTable` measured by ``flopwise bench-device``:

    time = max(FLOPs / achieved FLOP/s(class, size), bytes / achieved bandwidth(kind, size))
           + per-op overhead

- **class** (contractions, ``macs > 0``): for a convolution, from its reduction length (MACs
  per output, (channels / groups) × kernel taps) and its input channels: ``conv_pointwise`` when
  they are equal (1×1), ``conv_dense`` when the length is another multiple of the channels (one
  group), ``conv_grouped`` otherwise (depthwise and grouped); ``attention`` for
  scaled-dot-product attention; ``bmm`` for batched matmuls; ``gemm`` for the rest (mm, addmm,
  linear, the fused multi-head attention). The achieved rate is looked up by the op's FLOPs
  and arithmetic intensity.
  Pooling ops are the class ``pool``, timed by their window work (the elementwise FLOPs).
- **kind** (everything else that moves bytes): ``norm`` for normalisations, ``copy`` for ops
  declared cost-free that still move data (``clone``, ``cat``, padding), ``reduction`` when the
  op writes fewer elements than it reads (means, sums), else ``elementwise``; the bandwidth is
  looked up by the op's bytes (small tensors run from cache).
- **overhead**: the fixed cost of the op's class or kind (the smallest instance of it, measured
  interleaved with the other kinds' smallest instances, as ops run in a network:
  :meth:`~flopwise.hardware.calibration.CalibrationTable.op_fixed_s`), or that of a one-element
  add when the kind has none, per op that does work or moves bytes; that of a ``view`` per op
  that only changes metadata (views, ``empty``); and per module call the Python cost of the call:
  for a ``torch.nn`` layer class the table measured (``Conv2d``, ``BatchNorm2d``, ``ReLU``, …)
  its call beyond the functional op its ``forward`` makes, for any other module an empty
  ``nn.Module``'s call (:meth:`~flopwise.hardware.calibration.CalibrationTable.module_call_s`;
  ops called outside any module pay none). The rates are net of the fixed cost *their* loops
  paid (timed alone, smaller), so the difference is what a network's op pays more.
- **fresh pages**: an op that allocates its output (not in-place, not ``out=``) and writes
  ``bytes_written`` bytes pays the measured extra of writing a buffer that size fresh from the
  allocator (:meth:`~flopwise.hardware.calibration.CalibrationTable.fresh_output_s`): past the
  C library's mapping threshold (32 MiB with glibc) every call maps new pages and faults each
  one in, several times the cost of the write itself.

FLOPs are the ``standard`` convention's, like the roofline's. Assumptions (``# NB`` below): ops
run one after another (no overlap; true of eager CPU execution, and a bound on a GPU where
launches overlap kernels); the threads are those the tables were measured with; collectives
cost nothing here. Other Python time between ops (control flow in ``forward``) is not modelled.

>>> from flopwise.hardware.calibration import BandwidthPoint, CalibrationTable, KernelPoint
>>> import torch, flopwise
>>> table = CalibrationTable(compute={"gemm": (KernelPoint(10**9, 10**7, 0.01),)},
...                          memory={"elementwise": (BandwidthPoint(10**6, 1e-4),)},
...                          overhead_s={"op": 0.0, "view": 0.0})
>>> a = torch.empty(500, 1000, device="meta")
>>> b = torch.empty(1000, 1000, device="meta")
>>> round(estimate_latency(flopwise.profile(torch.mm, (a, b)), table).estimated_latency_s, 6)
0.01
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from math import prod
from typing import TYPE_CHECKING, Any, ClassVar

from flopwise.capture.events import Status
from flopwise.hardware.calibration import COMPUTE_CLASSES, MEMORY_KINDS, CalibrationTable
from flopwise.hardware.estimate import ESTIMATE_CONVENTION, module_estimates

if TYPE_CHECKING:
    from flopwise.capture.events import OpEvent
    from flopwise.report import Report

__all__ = ["LatencyEstimate", "ModuleLatency", "estimate_latency", "fresh_bytes", "op_class",
           "op_latencies"]


@dataclass(frozen=True)
class ModuleLatency:
    """One module's predicted time: inclusive of its children and of its own ops only."""

    name: str
    estimated_latency_s: float
    self_estimated_latency_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "estimated_latency_s": self.estimated_latency_s,
                "self_estimated_latency_s": self.self_estimated_latency_s}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModuleLatency:
        return cls(data["name"], float(data["estimated_latency_s"]),
                   float(data["self_estimated_latency_s"]))


@dataclass(frozen=True)
class LatencyEstimate:
    """The calibrated latency of one report (JSON key ``latency``).

    ``estimated_latency_s`` is the prediction; ``roofline_latency_s`` the ideal bound when the
    report also has a ``roofline`` section. ``class_time_s`` splits the prediction by op class
    and kind, with ``overhead`` the fixed per-op and per-call costs and ``fresh pages`` the first
    writes of freshly allocated outputs; ``calibration`` names the file.
    """

    KEY: ClassVar[str] = "latency"

    calibration: str
    device: str
    threads: int
    estimated_latency_s: float
    roofline_latency_s: float | None = None
    phase_time_s: Mapping[str, float] = field(default_factory=dict)
    class_time_s: Mapping[str, float] = field(default_factory=dict)
    ops: int = 0
    modules: tuple[ModuleLatency, ...] = ()

    def module(self, name: str) -> ModuleLatency:
        """The prediction of one module by name (root: ``""``)."""
        for entry in self.modules:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def share(self, seconds: float) -> float:
        """``seconds`` as a percentage of the whole prediction (0 when it is empty)."""
        total = self.estimated_latency_s
        return 100.0 * seconds / total if total > 0 else 0.0

    # -- what renderers show (flopwise.render.sections finds these two methods) ----------------
    def title(self) -> str:
        """The heading of the section in the text, tree and Markdown reports."""
        return f"Calibrated estimate (FLOPs: {ESTIMATE_CONVENTION})"

    def pairs(self) -> list[tuple[str, str]]:
        """The prediction, the calibration it came from, the roofline bound and the share of
        each op class, as label/value text."""
        from flopwise.render.units import format_percent, format_seconds

        threads = (f" with {self.threads} threads"
                   if self.threads and "threads" not in self.device else "")
        pairs = [("estimated latency", format_seconds(self.estimated_latency_s)),
                 ("calibration", f"{self.calibration}, measured on {self.device}{threads}")]
        if self.roofline_latency_s is not None:
            pairs.append(("roofline bound", format_seconds(self.roofline_latency_s)))
        pairs.append(("by kind", ", ".join(
            f"{kind} {format_percent(seconds, self.estimated_latency_s)}"
            for kind, seconds in sorted(self.class_time_s.items(), key=lambda kv: -kv[1]))))
        return pairs

    def to_dict(self) -> dict[str, Any]:
        return {
            "calibration": self.calibration, "device": self.device, "threads": self.threads,
            "convention": ESTIMATE_CONVENTION,
            "estimated_latency_s": self.estimated_latency_s,
            "roofline_latency_s": self.roofline_latency_s,
            "phase_time_s": dict(self.phase_time_s), "class_time_s": dict(self.class_time_s),
            "ops": self.ops, "modules": [m.to_dict() for m in self.modules],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LatencyEstimate:
        return cls(
            calibration=data["calibration"], device=data.get("device", ""),
            threads=int(data.get("threads", 0)),
            estimated_latency_s=float(data["estimated_latency_s"]),
            roofline_latency_s=data.get("roofline_latency_s"),
            phase_time_s=dict(data.get("phase_time_s", {})),
            class_time_s=dict(data.get("class_time_s", {})), ops=int(data.get("ops", 0)),
            modules=tuple(ModuleLatency.from_dict(m) for m in data.get("modules", ())),
        )


def op_class(event: OpEvent) -> str:
    """The compute class or memory kind an op is timed as (module docstring).

    >>> from flopwise.capture.events import OpEvent, Phase, Status
    >>> from flopwise.formulas.spec import Cost
    >>> conv = OpEvent("aten.convolution.default", "c", Phase.FORWARD, Status.COUNTED,
    ...                Cost(macs=9 * 32 * 56 * 56, dot_outputs=32 * 56 * 56), "float32",
    ...                in_shape=(1, 32, 56, 56), out_shape=(1, 32, 56, 56))
    >>> op_class(conv)  # 9 MACs per output, no multiple of 32 input channels: depthwise 3x3
    'conv_grouped'
    """
    cost, name = event.cost, event.op
    if "pool" in name and not cost.macs:
        return "pool"
    if "norm" in name:
        return "norm"
    if event.status is Status.ZERO:
        return "copy"
    if cost.macs > 0:
        if "conv" in name:
            reduction = cost.macs // max(cost.dot_outputs, 1)
            channels = event.in_shape[1] if len(event.in_shape) >= 2 else reduction
            if reduction % max(channels, 1):
                return "conv_grouped"   # (channels / groups) · taps is no multiple of channels
            return "conv_pointwise" if reduction == channels else "conv_dense"
        if "scaled_dot_product" in name:
            return "attention"
        # NB: the fused multi-head attention is mostly its projections: timed as a GEMM.
        return "bmm" if "bmm" in name else "gemm"
    read, written = prod(event.in_shape), prod(event.out_shape)
    return "reduction" if event.in_shape and written < read else "elementwise"


def fresh_bytes(event: OpEvent) -> int:
    """The bytes of the output ``event``'s op allocates: what it writes, unless it writes in
    place (``relu_``) or into a given buffer (``out=`` overloads).

    >>> from flopwise.capture.events import OpEvent, Phase, Status
    >>> from flopwise.formulas.spec import Cost
    >>> cost = Cost(elementwise=10, bytes_read=40, bytes_written=40)
    >>> [fresh_bytes(OpEvent(op, "", Phase.FORWARD, Status.COUNTED, cost, "float32"))
    ...  for op in ("aten.relu.default", "aten.relu_.default", "aten.add.out")]
    [40, 0, 0]
    """
    parts = event.op.split(".")
    packet = parts[1] if len(parts) > 1 else parts[0]
    if packet.endswith("_") or parts[-1].startswith("out"):
        return 0
    return event.cost.bytes_written or 0


def _op_time_s(event: OpEvent, flops: int, table: CalibrationTable
               ) -> tuple[str, float, float, float]:
    """(class, time without overhead, overhead, fresh pages) of one op."""
    moved = (event.cost.bytes_read or 0) + (event.cost.bytes_written or 0)
    if event.comm is not None:
        return "comm", 0.0, 0.0, 0.0  # NB: collectives are timed by the α–β model, not here
    if not moved and not event.cost.macs:
        return "overhead", 0.0, table.op_fixed_s("view"), 0.0
    kind = op_class(event)
    # NB: rates come from loops over cold operands (rotated beyond the last-level cache): in a
    # network an op's input was often just written by the op before it, and may be warmer.
    memory_kind = kind if kind in MEMORY_KINDS else "elementwise"
    seconds = moved / table.bytes_per_s(memory_kind, moved) if moved else 0.0
    if kind in COMPUTE_CLASSES:
        work = flops if kind != "pool" else event.cost.elementwise
        seconds = max(seconds, work / table.flops_per_s(kind, work, moved))
    # NB: the first write of a fresh output is timed as that of a filled buffer (a GEMM or a
    # convolution faults its pages in from its own threads, in the order its kernel writes)
    return kind, seconds, table.op_fixed_s(kind), table.fresh_output_s(fresh_bytes(event))


def op_latencies(report: Report, table: CalibrationTable) -> list[tuple[str, float]]:
    """(class, predicted seconds with its fixed cost) of every recorded op, in order — what a
    per-op comparison with a measured run reads (module calls are not included).

    >>> from flopwise.hardware.calibration import BandwidthPoint, CalibrationTable
    >>> import torch, flopwise
    >>> table = CalibrationTable(compute={},  # 12,000 bytes in 2 µs, 1 µs of it the fixed cost
    ...                          memory={"elementwise": (BandwidthPoint(12_000, 2e-6),)},
    ...                          overhead_s={"op": 1e-6, "view": 0.0})
    >>> x = torch.empty(1000, device="meta")   # an add of 1000 fp32: 8,000 bytes read, 4,000 written
    >>> [(kind, round(s * 1e6, 6)) for kind, s in op_latencies(flopwise.profile(torch.add, (x, x)), table)]
    [('elementwise', 2.0)]
    """
    from flopwise.conventions import get_convention

    standard = get_convention(ESTIMATE_CONVENTION)
    timed = (_op_time_s(event, standard.flops(event.cost), table) for event in report.events)
    return [(kind, seconds + overhead + pages) for kind, seconds, overhead, pages in timed]


def estimate_latency(report: Report, table: CalibrationTable) -> LatencyEstimate:
    """Predict the latency of every op of ``report`` with ``table`` (a pure function)."""
    from flopwise.conventions import get_convention

    standard = get_convention(ESTIMATE_CONVENTION)
    own: defaultdict[str, float] = defaultdict(float)
    phases: defaultdict[str, float] = defaultdict(float)
    classes: defaultdict[str, float] = defaultdict(float)
    for event in report.events:
        kind, seconds, overhead, pages = _op_time_s(event, standard.flops(event.cost), table)
        own[event.module] += seconds + overhead + pages
        phases[event.phase.value] += seconds + overhead + pages
        classes[kind] += seconds
        classes["overhead"] += overhead
        classes["fresh pages"] += pages
    # NB: a layer class the table has costs its tiny instance's call; any other module an empty
    # module's call (the Python of a custom forward beyond its ops and calls is not modelled).
    for node in report.tree.walk():
        if node.calls:
            module_s = node.calls * table.module_call_s(node.type)
            own[node.name] += module_s
            phases["forward"] += module_s
            classes["overhead"] += module_s
    zero: Counter[str] = Counter()
    modules = tuple(ModuleLatency(m.name, m.time_s, m.self_time_s)
                    for m in module_estimates(report, own, {}, zero, zero))
    roofline = report.roofline
    return LatencyEstimate(
        calibration=table.source or "(in memory)", device=table.device, threads=table.threads,
        estimated_latency_s=modules[0].estimated_latency_s if modules else sum(own.values()),
        roofline_latency_s=roofline.time_s if roofline is not None else None,
        phase_time_s=dict(phases), class_time_s={k: v for k, v in classes.items() if v},
        ops=len(report.events), modules=modules)
