"""Roofline estimates of a whole profile: per op, per module (self and inclusive), in total.

Every recorded op gets ``time = max(FLOPs / peak(dtype of the op), bytes moved / bandwidth)``
(:func:`~flopwise.hardware.roofline.roofline_time`), its bound and its arithmetic intensity. A
module's time is the sum of its ops' times (``self_time_s``: its own ops; ``time_s``: its own
and its children's), and the run's latency is the sum over every op of every phase that ran.

Which FLOPs. The hardware executes every floating-point operation, whatever a report's display
convention counts, so the estimate always uses the ``standard`` convention (2 FLOPs per MAC,
bias adds folded in, all elementwise work at its documented cost), never the report's own:
``macs`` would halve the compute side of every contraction and ``matmul`` would make every
normalisation and activation free of compute. (Memory-bound ops are timed by their bytes anyway.)

Ops whose dtype has no peak on the device (say ``float64`` on a TPU) are timed by their bytes
alone; their FLOPs are listed in ``untimed_flops`` so the gap is never silent.

>>> import torch, flopwise
>>> from flopwise.hardware import get_accelerator
>>> a = torch.empty(4096, 4096, dtype=torch.bfloat16, device="meta")
>>> report = flopwise.profile(torch.matmul, (a, a))
>>> estimate = estimate_roofline(report, get_accelerator("h100-sxm"))
>>> estimate.time_s == 2 * 4096**3 / 989.4e12, estimate.bound.value
(True, 'compute')

This module imports no torch itself; the report it reads was made with torch.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from flopwise.hardware.catalogue import Accelerator
from flopwise.hardware.roofline import (
    DEFAULT_COMPUTE_EFFICIENCY,
    DEFAULT_MEMORY_EFFICIENCY,
    Bound,
    roofline_time,
)
from flopwise.tree import parent_name

if TYPE_CHECKING:
    from flopwise.report import Report

__all__ = [
    "ESTIMATE_CONVENTION",
    "ModuleEstimate",
    "module_estimates",
    "OpEstimate",
    "RooflineEstimate",
    "estimate_roofline",
    "throughput_of",
]

#: The convention whose FLOPs the roofline times (see the module docstring).
ESTIMATE_CONVENTION = "standard"
_INTEGER_DTYPES = ("int64", "int32", "int16", "int8", "uint8")


@dataclass(frozen=True)
class OpEstimate:
    """One operator overload summed over its calls: time, and how much of it is compute-bound."""

    op: str
    calls: int
    flops: int
    bytes_moved: int
    time_s: float
    compute_bound_s: float

    @property
    def bound(self) -> Bound:
        return Bound.COMPUTE if self.compute_bound_s * 2 > self.time_s else Bound.MEMORY

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "calls": self.calls, "flops": self.flops,
                "bytes_moved": self.bytes_moved, "time_s": self.time_s,
                "compute_bound_s": self.compute_bound_s, "bound": self.bound.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OpEstimate:
        """The inverse of :meth:`to_dict`."""
        return cls(data["op"], data["calls"], data["flops"], data["bytes_moved"],
                   data["time_s"], _compute_share(data))


@dataclass(frozen=True)
class ModuleEstimate:
    """One module: estimated time of its own ops and inclusive of its children.

    ``bound`` is the bound of the ops that take most of its (inclusive) time; ``intensity`` is
    its FLOPs per byte moved (``None`` when it moves no bytes).
    """

    name: str
    time_s: float
    self_time_s: float
    flops: int
    bytes_moved: int
    compute_bound_s: float

    @property
    def bound(self) -> Bound | None:
        if self.time_s <= 0:
            return None
        return Bound.COMPUTE if self.compute_bound_s * 2 > self.time_s else Bound.MEMORY

    @property
    def intensity_flops_per_byte(self) -> float | None:
        return self.flops / self.bytes_moved if self.bytes_moved else None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "time_s": self.time_s, "self_time_s": self.self_time_s,
                "flops": self.flops, "bytes_moved": self.bytes_moved,
                "compute_bound_s": self.compute_bound_s,
                "bound": self.bound.value if self.bound is not None else None,
                "intensity_flops_per_byte": self.intensity_flops_per_byte}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModuleEstimate:
        """The inverse of :meth:`to_dict`."""
        return cls(data["name"], data["time_s"], data["self_time_s"], data["flops"],
                   data["bytes_moved"], _compute_share(data))


@dataclass(frozen=True)
class RooflineEstimate:
    """The roofline estimate of one profile run on one device.

    ``time_s`` is the estimated latency of everything the report ran (forward, and backward and
    optimizer step when they ran); ``phase_time_s`` splits it. Throughput is per second of that
    latency: ``samples_per_s`` from the batch (first dimension of the first input),
    ``tokens_per_s`` when the first input holds integer token ids (batch × sequence).
    """

    KEY: ClassVar[str] = "roofline"

    hardware_id: str
    hardware_name: str
    dtype: str
    peak_flops_per_s: float | None
    bandwidth_bytes_per_s: float
    compute_efficiency: float
    memory_efficiency: float
    allow_tf32: bool
    time_s: float
    compute_bound_s: float
    flops: int
    bytes_moved: int
    phase_time_s: dict[str, float] = field(default_factory=dict)
    modules: tuple[ModuleEstimate, ...] = ()
    ops: tuple[OpEstimate, ...] = ()
    untimed_flops: dict[str, int] = field(default_factory=dict)
    samples: int | None = None
    tokens: int | None = None

    @property
    def bound(self) -> Bound:
        return Bound.COMPUTE if self.compute_bound_s * 2 > self.time_s else Bound.MEMORY

    @property
    def intensity_flops_per_byte(self) -> float | None:
        return self.flops / self.bytes_moved if self.bytes_moved else None

    @property
    def samples_per_s(self) -> float | None:
        return self.samples / self.time_s if self.samples and self.time_s > 0 else None

    @property
    def tokens_per_s(self) -> float | None:
        return self.tokens / self.time_s if self.tokens and self.time_s > 0 else None

    def module(self, name: str) -> ModuleEstimate:
        """The estimate of one module by name (root: ``""``)."""
        for entry in self.modules:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def share(self, seconds: float) -> float:
        """``seconds`` as a percentage of the whole estimated time (0 when it is empty)."""
        return 100.0 * seconds / self.time_s if self.time_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "convention": ESTIMATE_CONVENTION,
            "hardware": {"id": self.hardware_id, "name": self.hardware_name,
                         "dtype": self.dtype, "peak_flops_per_s": self.peak_flops_per_s,
                         "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s},
            "compute_efficiency": self.compute_efficiency,
            "memory_efficiency": self.memory_efficiency,
            "allow_tf32": self.allow_tf32,
            "time_s": self.time_s,
            "compute_bound_s": self.compute_bound_s,
            "phase_time_s": dict(self.phase_time_s),
            "bound": self.bound.value,
            "flops": self.flops,
            "bytes_moved": self.bytes_moved,
            "intensity_flops_per_byte": self.intensity_flops_per_byte,
            "samples": self.samples,
            "samples_per_s": self.samples_per_s,
            "tokens": self.tokens,
            "tokens_per_s": self.tokens_per_s,
            "untimed_flops": dict(self.untimed_flops),
            "modules": [m.to_dict() for m in self.modules],
            "ops": [o.to_dict() for o in self.ops],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RooflineEstimate:
        """The inverse of :meth:`to_dict` (derived figures are recomputed, not read)."""
        device = data["hardware"]
        return cls(
            hardware_id=device["id"], hardware_name=device["name"], dtype=device["dtype"],
            peak_flops_per_s=device["peak_flops_per_s"],
            bandwidth_bytes_per_s=device["bandwidth_bytes_per_s"],
            compute_efficiency=data["compute_efficiency"],
            memory_efficiency=data["memory_efficiency"], allow_tf32=data["allow_tf32"],
            time_s=data["time_s"], compute_bound_s=_compute_share(data), flops=data["flops"],
            bytes_moved=data["bytes_moved"], phase_time_s=dict(data.get("phase_time_s", {})),
            modules=tuple(ModuleEstimate.from_dict(m) for m in data.get("modules", ())),
            ops=tuple(OpEstimate.from_dict(o) for o in data.get("ops", ())),
            untimed_flops=dict(data.get("untimed_flops", {})),
            samples=data.get("samples"), tokens=data.get("tokens"),
        )


def _compute_share(data: Mapping[str, Any]) -> float:
    """Seconds of ``data["time_s"]`` that were compute-bound (``compute_bound_s``)."""
    if "compute_bound_s" in data:
        return float(data["compute_bound_s"])
    # NB: files written before typed sections kept only the bound; read back, such an
    # estimate is wholly compute- or memory-bound, which keeps every bound and time it shows.
    return float(data["time_s"]) if data.get("bound") == Bound.COMPUTE.value else 0.0


def throughput_of(shapes: Iterable[tuple[int, ...]], dtypes: Iterable[str] = ()
                  ) -> tuple[int | None, int | None]:
    """``(samples, tokens)`` of a run from its input shapes and dtypes.

    Samples are the first input's first dimension; tokens its first two dimensions' product
    when it holds integer ids (the token-id convention of language models).

    >>> throughput_of([(8, 3, 224, 224)], ["float32"])
    (8, None)
    >>> throughput_of([(4, 128)], ["int64"])
    (4, 512)
    """
    shapes, dtypes = list(shapes), list(dtypes)
    if not shapes or not shapes[0]:
        return None, None
    first = shapes[0]
    tokens = None
    if dtypes and dtypes[0] in _INTEGER_DTYPES and len(first) >= 2:
        tokens = first[0] * first[1]
    return first[0], tokens


def _dominant(values: Counter[str]) -> str:
    return values.most_common(1)[0][0] if values else "float32"


def estimate_roofline(
    report: Report,
    accelerator: Accelerator,
    *,
    compute_efficiency: float = DEFAULT_COMPUTE_EFFICIENCY,
    memory_efficiency: float = DEFAULT_MEMORY_EFFICIENCY,
    allow_tf32: bool = False,
) -> RooflineEstimate:
    """Time every op of ``report`` on ``accelerator`` with the roofline model (a pure function).

    Efficiencies are fractions of the peak and of the bandwidth (1.0: the ideal roofline, a
    lower bound on time). ``allow_tf32`` times float32 contractions at the TF32 peak.

    A large fp32 add (n = 2²⁸) reads 8n and writes 4n bytes: memory-bound at 12n / 3.35e12 s.

    >>> import torch, flopwise
    >>> from flopwise.hardware import get_accelerator
    >>> x = torch.empty(2**28, device="meta")
    >>> estimate = estimate_roofline(flopwise.profile(torch.add, (x, x)), get_accelerator("h100-sxm"))
    >>> estimate.bound.value, estimate.time_s == 12 * 2**28 / 3.35e12
    ('memory', True)
    """
    from flopwise.conventions import get_convention

    standard = get_convention(ESTIMATE_CONVENTION)
    peaks: dict[str, float | None] = {}
    own_time: defaultdict[str, float] = defaultdict(float)
    own_compute: defaultdict[str, float] = defaultdict(float)
    own_flops: Counter[str] = Counter()
    own_bytes: Counter[str] = Counter()
    phase_time: defaultdict[str, float] = defaultdict(float)
    op_rows: dict[str, list[float]] = {}
    op_calls: Counter[str] = Counter()
    untimed: Counter[str] = Counter()
    dtype_flops: Counter[str] = Counter()
    for event in report.events:
        flops = standard.flops(event.cost)
        moved = (event.cost.bytes_read or 0) + (event.cost.bytes_written or 0)
        if event.dtype not in peaks:
            peaks[event.dtype] = accelerator.find_peak(event.dtype, allow_tf32=allow_tf32)
        peak = peaks[event.dtype]
        timed_flops = flops if peak is not None else 0
        if flops and peak is None:
            untimed[event.dtype] += flops
        if timed_flops:
            dtype_flops[event.dtype] += timed_flops
        estimate = roofline_time(timed_flops, moved, peak or 1.0,
                                 accelerator.bandwidth_bytes_per_s,
                                 compute_efficiency, memory_efficiency)
        seconds = estimate.time_s
        compute = seconds if estimate.bound is Bound.COMPUTE and timed_flops else 0.0
        own_time[event.module] += seconds
        own_compute[event.module] += compute
        own_flops[event.module] += flops
        own_bytes[event.module] += moved
        phase_time[event.phase.value] += seconds
        row = op_rows.setdefault(event.op, [0, 0, 0.0, 0.0])
        row[0] += flops
        row[1] += moved
        row[2] += seconds
        row[3] += compute
        op_calls[event.op] += 1
    modules = module_estimates(report, own_time, own_compute, own_flops, own_bytes)
    ops = sorted((OpEstimate(op, op_calls[op], int(r[0]), int(r[1]), r[2], r[3])
                  for op, r in op_rows.items()), key=lambda o: (-o.time_s, o.op))
    dtype = _dominant(dtype_flops)
    samples, tokens = throughput_of(report.run.inputs, report.run.input_dtypes)
    root = modules[0] if modules else ModuleEstimate("", 0.0, 0.0, 0, 0, 0.0)
    return RooflineEstimate(
        hardware_id=accelerator.id,
        hardware_name=accelerator.name,
        dtype=dtype,
        peak_flops_per_s=accelerator.find_peak(dtype, allow_tf32=allow_tf32),
        bandwidth_bytes_per_s=accelerator.bandwidth_bytes_per_s,
        compute_efficiency=compute_efficiency,
        memory_efficiency=memory_efficiency,
        allow_tf32=allow_tf32,
        time_s=root.time_s,
        compute_bound_s=root.compute_bound_s,
        flops=root.flops,
        bytes_moved=root.bytes_moved,
        phase_time_s=dict(phase_time),
        modules=modules,
        ops=tuple(ops),
        untimed_flops=dict(untimed),
        samples=samples,
        tokens=tokens,
    )


def module_estimates(report: Report, own_time: dict[str, float], own_compute: dict[str, float],
                     own_flops: Counter[str], own_bytes: Counter[str]
                     ) -> tuple[ModuleEstimate, ...]:
    """Self and inclusive figures per module of the report's tree, in tree order, from per-module
    own times (the roofline's and the calibrated model's alike)."""
    nodes = list(report.tree.walk())
    names = [node.name for node in nodes]
    totals = {name: [0.0, 0.0, 0, 0] for name in names}
    own = {name: 0.0 for name in names}
    for name in set(own_time) | set(own_flops) | set(own_bytes):
        holder: str | None = name
        while holder is not None and holder not in totals:
            holder = parent_name(holder)   # an op in a module the tree does not list
        target = totals[holder if holder is not None else ""]
        target[0] += own_time.get(name, 0.0)
        target[1] += own_compute.get(name, 0.0)
        target[2] += own_flops[name]
        target[3] += own_bytes[name]
        own[holder if holder is not None else ""] += own_time.get(name, 0.0)
    for node in reversed(nodes):                   # children before parents
        for child in node.children:
            if child in totals:
                for i, value in enumerate(totals[child]):
                    totals[node.name][i] += value
    return tuple(ModuleEstimate(name, totals[name][0], own[name],
                                int(totals[name][2]), int(totals[name][3]), totals[name][1])
                 for name in names)
