"""Calibration tables: what the machine achieves per kernel class and size, and per op.

``flopwise bench-device`` measures them with small microbenchmarks independent of any model
(:mod:`flopwise.hardware.microbench`) and writes them into the hardware profile under the key
``calibration``; :mod:`flopwise.hardware.calibrated` turns a report into a latency with them.

The tables:

- **compute** — per kernel class (``gemm``, ``bmm``, ``attention``, ``conv_dense``,
  ``conv_pointwise``, ``conv_grouped``, ``pool``) a list of measured points: FLOPs of one call, bytes it
  moves, and the median time of that call. The achieved rate of a class at a size is looked up
  from its points by arithmetic intensity and size (:meth:`CalibrationTable.flops_per_s`).
- **memory** — per op kind (``elementwise``, ``reduction``, ``copy``, ``norm``) points of bytes
  moved and median time: achieved bandwidth as a function of size, which is where caches show
  (:meth:`CalibrationTable.bytes_per_s`).
- **overhead_s** — fixed costs: ``op``, one op (a one-element op through the dispatcher,
  allocation included); ``view``, a metadata-only op such as ``view``; ``module`` (optional),
  the call of an ``nn.Module`` itself (Python's share of eager execution); and, optionally, one
  per class or kind (the smallest instance of it: a depthwise convolution sets up far more than
  an add), which :meth:`CalibrationTable.fixed_s` prefers to ``op``. Each timed alone in a loop.
- **interleaved_s** (optional, version 2) — the same fixed costs timed with all the smallest
  instances running one after another, as an op runs in a network between ops of other kinds:
  :meth:`CalibrationTable.op_fixed_s`, what the time model charges per op.
- **layer_s** (optional, version 3) — per ``torch.nn`` layer class (``Conv2d``, ``BatchNorm2d``,
  ``ReLU``, …) the Python cost of calling a tiny instance beyond the functional call its
  ``forward`` makes (both timed interleaved): what a call of that layer costs on top of its ops
  (:meth:`CalibrationTable.module_call_s`; other modules cost an empty module's call).
- **fresh_pages** (optional, version 3) — points of (bytes of a freshly allocated buffer, the
  extra seconds of writing it once against writing a buffer already in use): large allocations
  come from the OS as untouched pages, and their first write faults every page in
  (:meth:`CalibrationTable.fresh_output_s`).

Rates are *net* of the fixed cost paid in their loop: a point's rate is its work over (its time −
its class's ``fixed_s``), so that ``time = work / rate + fixed_s`` gives the point's own time back.

Pure Python, no torch: the tables load anywhere.

>>> table = CalibrationTable(
...     compute={"gemm": (KernelPoint(2_000_000, 40_000, 1.1e-4),)},
...     memory={"elementwise": (BandwidthPoint(1_000_000, 1.1e-4),)},
...     overhead_s={"op": 1e-5, "view": 1e-6})
>>> round(table.flops_per_s("gemm", 2_000_000, 40_000))  # 2e6 FLOPs in (110 - 10) µs
20000000000
>>> round(table.bytes_per_s("elementwise", 1_000_000))    # 1e6 bytes in 100 µs
10000000000
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flopwise.errors import UsageError

__all__ = [
    "CALIBRATION_SCHEMA",
    "COMPUTE_CLASSES",
    "MEMORY_KINDS",
    "BandwidthPoint",
    "CalibrationTable",
    "KernelPoint",
    "load_calibration",
]

#: Version of the ``calibration`` object inside a hardware profile. Version 3 adds
#: ``layer_s`` and ``fresh_pages``; version 2 has the same fields as 1, its microbenchmarks
#: read cold operands (:mod:`flopwise.hardware.microbench`), version 1's hot ones (faster rates
#: than a network sees). All three load (the older ones without the version-3 terms).
CALIBRATION_SCHEMA = "flopwise.calibration/3"
_READABLE = ("flopwise.calibration/1", "flopwise.calibration/2", CALIBRATION_SCHEMA)
#: Kernel classes of the compute table.
COMPUTE_CLASSES: tuple[str, ...] = (
    "gemm", "bmm", "attention", "conv_dense", "conv_pointwise", "conv_grouped", "pool")
#: Op kinds of the bandwidth table.
MEMORY_KINDS: tuple[str, ...] = ("elementwise", "reduction", "copy", "norm")
#: How many measured points (nearest first) a compute lookup blends.
_NEIGHBOURS = 4
# The net time of a point is at least this share of its measured time (a point barely above
# the fixed cost must not get an unbounded rate).
_MIN_NET_SHARE = 0.2


@dataclass(frozen=True)
class KernelPoint:
    """One measured kernel call: its FLOPs, the bytes it moves and its median time."""

    flops: int
    bytes_moved: int
    median_s: float

    @property
    def intensity(self) -> float:
        """FLOPs per byte moved."""
        return self.flops / max(self.bytes_moved, 1)

    def to_dict(self) -> dict[str, Any]:
        return {"flops": self.flops, "bytes_moved": self.bytes_moved, "median_s": self.median_s}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KernelPoint:
        return cls(int(data["flops"]), int(data["bytes_moved"]), float(data["median_s"]))


@dataclass(frozen=True)
class BandwidthPoint:
    """One measured memory-bound call: bytes read plus written and its median time."""

    bytes_moved: int
    median_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"bytes_moved": self.bytes_moved, "median_s": self.median_s}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BandwidthPoint:
        return cls(int(data["bytes_moved"]), float(data["median_s"]))


@dataclass(frozen=True)
class CalibrationTable:
    """Measured rates by kernel class and size, and fixed per-op costs (module docstring).

    ``threads`` is the torch intra-op thread count the tables were measured with (0 on a GPU),
    ``device`` the machine, ``source`` the file they were read from (empty when in memory).
    """

    compute: Mapping[str, tuple[KernelPoint, ...]]
    memory: Mapping[str, tuple[BandwidthPoint, ...]]
    overhead_s: Mapping[str, float]
    threads: int = 0
    device: str = ""
    source: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    interleaved_s: Mapping[str, float] = field(default_factory=dict)
    layer_s: Mapping[str, float] = field(default_factory=dict)
    fresh_pages: tuple[BandwidthPoint, ...] = ()

    def __post_init__(self) -> None:
        for name in ("op", "view"):
            if name not in self.overhead_s or self.overhead_s[name] < 0:
                raise UsageError(f"calibration: overhead_s needs a non-negative {name!r}; "
                                 "regenerate the profile with flopwise bench-device")
        if not any(self.memory.values()):
            raise UsageError("calibration: the memory table is empty; regenerate the profile "
                             "with flopwise bench-device")

    def fixed_s(self, kind: str) -> float:
        """The fixed cost of one op of ``kind`` timed alone in a loop (its own entry, else
        ``op``): what the measured points paid per call."""
        return self.overhead_s.get(kind, self.overhead_s["op"])

    def op_fixed_s(self, kind: str) -> float:
        """The fixed cost of one op of ``kind`` in a network: its interleaved entry, else the
        interleaved ``op`` for a kind without an entry of its own, else :meth:`fixed_s` (tables
        without ``interleaved_s``).

        >>> table = CalibrationTable({}, {"elementwise": (BandwidthPoint(1, 1.0),)},
        ...                          {"op": 1e-6, "view": 0.0, "norm": 5e-6},
        ...                          interleaved_s={"op": 4e-6, "norm": 3e-5})
        >>> table.op_fixed_s("norm"), table.op_fixed_s("elementwise"), table.op_fixed_s("view")
        (3e-05, 4e-06, 0.0)
        """
        if kind in self.interleaved_s:
            return self.interleaved_s[kind]
        if kind not in self.overhead_s and "op" in self.interleaved_s:
            return self.interleaved_s["op"]
        return self.fixed_s(kind)

    def module_call_s(self, layer: str) -> float:
        """The cost of one call of a module of class ``layer`` beyond its ops: its ``layer_s``
        entry, else the interleaved call of an empty module (``module``), else nothing.

        >>> table = CalibrationTable({}, {"elementwise": (BandwidthPoint(1, 1.0),)},
        ...                          {"op": 1e-6, "view": 0.0, "module": 2e-6},
        ...                          interleaved_s={"module": 4e-6}, layer_s={"Conv2d": 9e-6})
        >>> table.module_call_s("Conv2d"), table.module_call_s("Bottleneck")
        (9e-06, 4e-06)
        """
        if layer in self.layer_s:
            return self.layer_s[layer]
        return self.op_fixed_s("module") if "module" in self.overhead_s else 0.0

    def fresh_output_s(self, bytes_written: int) -> float:
        """The extra time of writing ``bytes_written`` bytes into a freshly allocated output:
        the per-byte extra of the largest measured ``fresh_pages`` size not above it (nothing
        below the smallest: smaller buffers are reused from the allocator's own memory).

        >>> table = CalibrationTable({}, {"elementwise": (BandwidthPoint(1, 1.0),)},
        ...                          {"op": 0.0, "view": 0.0},
        ...                          fresh_pages=(BandwidthPoint(1000, 0.0), BandwidthPoint(4000, 4e-6)))
        >>> table.fresh_output_s(999), table.fresh_output_s(3999), table.fresh_output_s(8000)
        (0.0, 0.0, 8e-06)
        """
        below = [p for p in self.fresh_pages if p.bytes_moved <= bytes_written]
        if not below:
            return 0.0
        point = max(below, key=lambda p: p.bytes_moved)
        return max(point.median_s, 0.0) * bytes_written / point.bytes_moved

    def _net_s(self, median_s: float, kind: str) -> float:
        return max(median_s - self.fixed_s(kind), _MIN_NET_SHARE * median_s)

    def flops_per_s(self, kernel: str, flops: int, bytes_moved: int) -> float:
        """Achieved FLOP/s of ``kernel`` for a call of ``flops`` moving ``bytes_moved``.

        The rate is blended from the class's nearest measured points in (log FLOPs, log
        intensity), weighted by inverse squared distance; a query on a point gets its rate.
        A class with no points borrows the ``gemm`` table.
        """
        kind = kernel if self.compute.get(kernel) else "gemm"
        points = self.compute.get(kind, ())
        if not points:
            raise UsageError(f"calibration has no points for {kernel!r} nor gemm; regenerate "
                             "the profile with flopwise bench-device")
        x = math.log10(max(flops, 1))
        y = math.log10(max(flops, 1) / max(bytes_moved, 1))
        scored = sorted(
            ((x - math.log10(p.flops)) ** 2 + (y - math.log10(p.intensity)) ** 2,
             math.log(p.flops / self._net_s(p.median_s, kind))) for p in points)[:_NEIGHBOURS]
        if scored[0][0] == 0.0:
            return math.exp(scored[0][1])
        weights = [1.0 / d for d, _ in scored]
        return math.exp(sum(w * r for w, (_, r) in zip(weights, scored)) / sum(weights))

    def bytes_per_s(self, kind: str, bytes_moved: int) -> float:
        """Achieved bandwidth of ``kind`` for a call moving ``bytes_moved`` bytes.

        Interpolated linearly in log size between measured points, flat beyond the ends. A kind
        with no points borrows ``elementwise``.
        """
        chosen = kind if self.memory.get(kind) else "elementwise" if self.memory.get(
            "elementwise") else next(k for k, p in self.memory.items() if p)
        points = sorted(self.memory[chosen], key=lambda p: p.bytes_moved)
        rates = [(math.log(p.bytes_moved),
                  math.log(p.bytes_moved / self._net_s(p.median_s, chosen))) for p in points]
        size = math.log(max(bytes_moved, 1))
        if size <= rates[0][0]:
            return math.exp(rates[0][1])
        for (x0, r0), (x1, r1) in zip(rates, rates[1:]):
            if size <= x1:
                share = (size - x0) / (x1 - x0) if x1 > x0 else 1.0
                return math.exp(r0 + share * (r1 - r0))
        return math.exp(rates[-1][1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": CALIBRATION_SCHEMA,
            "threads": self.threads,
            "device": self.device,
            "overhead_s": dict(self.overhead_s),
            "interleaved_s": dict(self.interleaved_s),
            "layer_s": dict(self.layer_s),
            "fresh_pages": [p.to_dict() for p in self.fresh_pages],
            "compute": {k: [p.to_dict() for p in v] for k, v in self.compute.items()},
            "memory": {k: [p.to_dict() for p in v] for k, v in self.memory.items()},
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "") -> CalibrationTable:
        """Read a ``calibration`` object (version 1, 2 or 3); :class:`~flopwise.UsageError`
        for another schema."""
        if data.get("schema") not in _READABLE:
            raise UsageError(f"{source or 'calibration'}: schema {data.get('schema')!r} is not "
                             f"{CALIBRATION_SCHEMA!r}; regenerate it with flopwise bench-device")
        try:
            return cls(
                compute={k: tuple(KernelPoint.from_dict(p) for p in v)
                         for k, v in data["compute"].items()},
                memory={k: tuple(BandwidthPoint.from_dict(p) for p in v)
                        for k, v in data["memory"].items()},
                overhead_s={k: float(v) for k, v in data["overhead_s"].items()},
                interleaved_s={k: float(v) for k, v in data.get("interleaved_s", {}).items()},
                layer_s={k: float(v) for k, v in data.get("layer_s", {}).items()},
                fresh_pages=tuple(BandwidthPoint.from_dict(p)
                                  for p in data.get("fresh_pages", ())),
                threads=int(data.get("threads", 0)), device=str(data.get("device", "")),
                source=source, notes=tuple(data.get("notes", ())),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise UsageError(f"{source or 'calibration'}: malformed calibration table "
                             f"({type(error).__name__}: {error}); regenerate it with "
                             "flopwise bench-device") from None


def load_calibration(path: str | Path) -> CalibrationTable:
    """The calibration tables of a hardware profile written by ``flopwise bench-device``.

    Raises :class:`~flopwise.UsageError` (one line) when the file is missing, is not JSON, or
    is an older profile without tables (rerun ``flopwise bench-device`` to add them).
    """
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"calibration file {file} not found; write one with "
                         "flopwise bench-device -o FILE") from None
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read calibration file {file} ({error}); regenerate it with "
                         "flopwise bench-device -o FILE") from None
    tables = data.get("calibration") if isinstance(data, dict) else None
    if not isinstance(tables, dict):
        raise UsageError(f"{file} has no calibration tables (a profile from an older "
                         "flopwise bench-device); rerun flopwise bench-device -o FILE")
    return CalibrationTable.from_dict(tables, source=str(file))
