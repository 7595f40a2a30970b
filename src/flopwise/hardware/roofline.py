"""The roofline time model: an op takes as long as its slower side, compute or memory.

    compute_s = FLOPs / (peak FLOP/s · compute_efficiency)
    memory_s  = bytes moved / (bandwidth bytes/s · memory_efficiency)
    time_s    = max(compute_s, memory_s)

The op is *compute-bound* when ``compute_s > memory_s`` and *memory-bound* otherwise; its
arithmetic intensity is FLOPs per byte moved. An op is compute-bound exactly when its intensity
exceeds the device's *ridge point* (peak / bandwidth, both scaled by their efficiencies).

Efficiency factors. Both default to 1.0: the ideal roofline, i.e. the vendor's peak and
bandwidth, which no real kernel reaches — estimates are lower bounds on time. Pass fractions in
(0, 1] to model achievable throughput instead: large GEMMs typically reach about 0.7-0.8 of the
dense tensor-core peak (a lent H200 measured ~790 of 989.4 TFLOP/s bf16, i.e. 0.80), and
streaming kernels about 0.8-0.9 of the rated bandwidth; ``flopwise bench-device`` measures both
on your machine. These are user choices, never applied silently.

Pure arithmetic over ints and floats; no torch.

>>> t = roofline_time(2 * 4096**3, 3 * 4096**2 * 2, 989.4e12, 3.35e12)
>>> t.bound
<Bound.COMPUTE: 'compute'>
>>> round(t.time_s * 1e6, 1)          # µs
138.9
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from flopwise.errors import UsageError
from flopwise.hardware.catalogue import Accelerator

__all__ = [
    "DEFAULT_COMPUTE_EFFICIENCY",
    "DEFAULT_MEMORY_EFFICIENCY",
    "Bound",
    "RooflineTime",
    "roofline_time",
    "roofline_on",
    "ridge_point",
]

#: Fraction of the peak FLOP/s assumed achievable by default: 1.0, the ideal roofline.
DEFAULT_COMPUTE_EFFICIENCY: float = 1.0
#: Fraction of the rated memory bandwidth assumed achievable by default: 1.0, the ideal roofline.
DEFAULT_MEMORY_EFFICIENCY: float = 1.0


class Bound(str, Enum):
    """Which side of the roofline limits an op."""

    COMPUTE = "compute"
    MEMORY = "memory"


@dataclass(frozen=True)
class RooflineTime:
    """A roofline estimate for one op (or any sum of FLOPs and bytes).

    ``intensity_flops_per_byte`` is FLOPs / bytes moved: ``math.inf`` when an op moves no bytes
    but does FLOPs, and ``0.0`` when it does neither.
    """

    time_s: float
    bound: Bound
    intensity_flops_per_byte: float
    compute_s: float
    memory_s: float


def _check_rate(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise UsageError(f"roofline: {name} must be a positive finite number, got {value!r}")


def _check_efficiency(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0 < value <= 1):
        raise UsageError(
            f"roofline: {name} must be a fraction in (0, 1], got {value!r}; "
            "1.0 is the ideal roofline, e.g. 0.8 for 80% of peak"
        )


def roofline_time(
    flops: int | float,
    bytes_moved: int,
    peak_flops_per_s: float,
    bandwidth_bytes_per_s: float,
    compute_efficiency: float = DEFAULT_COMPUTE_EFFICIENCY,
    memory_efficiency: float = DEFAULT_MEMORY_EFFICIENCY,
) -> RooflineTime:
    """Estimate the time of ``flops`` FLOPs that read and write ``bytes_moved`` bytes.

    ``bytes_moved`` is reads plus writes to memory (inputs read, outputs written). A large fp32
    elementwise add of n = 2²⁸ elements on an H100 SXM (3.35 TB/s) reads 2·4n bytes and writes
    4n, so it is memory-bound at 12n / 3.35e12 s:

    >>> n = 2**28
    >>> t = roofline_time(n, 12 * n, 67e12, 3.35e12)
    >>> t.bound.value, round(t.memory_s * 1e3, 3)     # ms
    ('memory', 0.962)
    >>> roofline_time(n, 12 * n, 67e12, 3.35e12, memory_efficiency=0.5).time_s == 2 * t.time_s
    True

    Raises :class:`~flopwise.errors.UsageError` on negative work, non-positive rates, or an
    efficiency outside (0, 1].
    """
    if flops < 0 or bytes_moved < 0:
        raise UsageError(
            f"roofline: FLOPs and bytes moved must be >= 0, got {flops!r} FLOPs, {bytes_moved!r} bytes"
        )
    _check_rate("peak_flops_per_s", peak_flops_per_s)
    _check_rate("bandwidth_bytes_per_s", bandwidth_bytes_per_s)
    _check_efficiency("compute_efficiency", compute_efficiency)
    _check_efficiency("memory_efficiency", memory_efficiency)
    compute_s = flops / (peak_flops_per_s * compute_efficiency)
    memory_s = bytes_moved / (bandwidth_bytes_per_s * memory_efficiency)
    if bytes_moved:
        intensity = flops / bytes_moved
    else:
        intensity = math.inf if flops else 0.0
    bound = Bound.COMPUTE if compute_s > memory_s else Bound.MEMORY
    return RooflineTime(
        time_s=max(compute_s, memory_s),
        bound=bound,
        intensity_flops_per_byte=intensity,
        compute_s=compute_s,
        memory_s=memory_s,
    )


def roofline_on(
    accelerator: Accelerator,
    flops: int | float,
    bytes_moved: int,
    dtype_name: str,
    *,
    compute_efficiency: float = DEFAULT_COMPUTE_EFFICIENCY,
    memory_efficiency: float = DEFAULT_MEMORY_EFFICIENCY,
    allow_tf32: bool = False,
) -> RooflineTime:
    """:func:`roofline_time` with the peak for ``dtype_name`` and the bandwidth of ``accelerator``.

    >>> from flopwise.hardware.catalogue import get_accelerator
    >>> t = roofline_on(get_accelerator("h100-sxm"), 2 * 4096**3, 3 * 4096**2 * 2, "bfloat16")
    >>> t.time_s == 2 * 4096**3 / 989.4e12
    True

    Raises :class:`~flopwise.errors.UsageError` when the device defines no peak for the dtype
    (see :meth:`Accelerator.peak_for`).
    """
    return roofline_time(
        flops,
        bytes_moved,
        accelerator.peak_for(dtype_name, allow_tf32=allow_tf32),
        accelerator.bandwidth_bytes_per_s,
        compute_efficiency=compute_efficiency,
        memory_efficiency=memory_efficiency,
    )


def ridge_point(peak_flops_per_s: float, bandwidth_bytes_per_s: float) -> float:
    """The arithmetic intensity (FLOPs per byte) where the roofline turns: peak / bandwidth.

    Ops above it are compute-bound, below it memory-bound. H100 SXM, bf16:

    >>> round(ridge_point(989.4e12, 3.35e12), 1)
    295.3
    """
    _check_rate("peak_flops_per_s", peak_flops_per_s)
    _check_rate("bandwidth_bytes_per_s", bandwidth_bytes_per_s)
    return peak_flops_per_s / bandwidth_bytes_per_s
