"""Time: training runs from FLOPs and a utilisation, inference from the roofline.

Training time is model FLOPs over ``gpus · MFU · peak``; or, given the FLOP/s a GPU really
achieves (hardware FLOPs, recomputation included, as Megatron reports it), hardware FLOPs over
``gpus · achieved``. Inference uses the roofline: a phase takes at least its FLOPs over the
peak and at least its bytes over the memory bandwidth; prefill is usually compute-bound,
decode memory-bound (every generated token re-reads the weights and the KV cache).

>>> # Megatron (Narayanan et al. 2021): GPT-3 175B, 300B tokens, 1024 A100s at 140 TFLOP/s
>>> round(megatron_training_s(300e9, 175e9, 1024, 140e12) / 86400, 1)
33.9
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from flopwise.errors import UsageError

__all__ = [
    "PF_DAY_FLOPS",
    "AcceleratorLike",
    "peak_key",
    "peak_flops_of",
    "TrainingTime",
    "training_time",
    "megatron_training_s",
    "mfu",
    "Roofline",
    "roofline",
    "decode_crossover_batch",
]

#: One petaFLOP/s-day: 10¹⁵ FLOP/s for 86,400 s.
PF_DAY_FLOPS = 8.64e19


class AcceleratorLike(Protocol):
    """What the planner reads from a catalogue entry (``flopwise.hardware.Accelerator``)."""

    @property
    def name(self) -> str: ...

    @property
    def peak_flops(self) -> Mapping[str, float]:
        """Precision key (``bf16``, ``fp8``, ...) -> dense FLOP/s."""
        ...

    @property
    def memory_bytes(self) -> int: ...

    @property
    def bandwidth_bytes_per_s(self) -> float: ...


def peak_key(dtype: str) -> str:
    """The catalogue's peak for a planner dtype. int4 weights are dequantised and multiplied in
    bf16, so int4 uses the bf16 peak.

    >>> peak_key("int4"), peak_key("fp8")
    ('bf16', 'fp8')
    """
    return "bf16" if dtype == "int4" else dtype


def peak_flops_of(accelerator: AcceleratorLike, dtype: str) -> float:
    """Dense peak FLOP/s of ``accelerator`` for ``dtype``; a UsageError when it has none."""
    key = peak_key(dtype)
    peak = accelerator.peak_flops.get(key)
    if not peak:
        defined = ", ".join(sorted(k for k, v in accelerator.peak_flops.items() if v)) or "none"
        label = getattr(accelerator, "id", accelerator.name)
        raise UsageError(
            f"{label} has no {key} peak (it defines {defined}); pick another --dtype or --hardware"
        )
    return float(peak)


def mfu(model_flops_per_token: float, tokens_per_s: float, peak_flops_per_s: float) -> float:
    """Model FLOPs utilisation: achieved model FLOP/s over the peak (Chowdhery et al. 2022).

    >>> round(mfu(854_553_600, 100 * 1024 / 0.755, 312e12), 4)   # nanoGPT, GPT-2 on an A100
    0.3715
    """
    return model_flops_per_token * tokens_per_s / peak_flops_per_s


def megatron_training_s(tokens: float, params: float, gpus: int, achieved_flops_per_s: float) -> float:
    """Narayanan et al.'s end-to-end estimate 8·T·P / (n·X), activation recomputation on."""
    return 8 * tokens * params / (gpus * achieved_flops_per_s)


@dataclass(frozen=True)
class TrainingTime:
    """A training run of ``tokens`` tokens on ``gpus`` accelerators.

    ``mfu`` is model FLOPs utilisation; ``achieved_flops_per_s`` the hardware FLOP/s each GPU
    sustains (recomputation included). One of them was given, the other follows.
    """

    tokens: int
    gpus: int
    model_flops: int
    hardware_flops: int
    peak_flops_per_s: float
    mfu: float
    achieved_flops_per_s: float
    seconds: float
    megatron_estimate_s: float

    @property
    def gpu_hours(self) -> float:
        """Accelerator-hours: seconds · gpus / 3600."""
        return self.seconds * self.gpus / 3600

    @property
    def pf_days(self) -> float:
        """Model FLOPs in petaFLOP/s-days."""
        return self.model_flops / PF_DAY_FLOPS


def training_time(
    *,
    model_flops: int,
    hardware_flops: int,
    tokens: int,
    params: int,
    gpus: int,
    peak_flops_per_s: float,
    mfu: float | None = None,
    achieved_flops_per_s: float | None = None,
) -> TrainingTime:
    """Time of a run, from an MFU (model FLOPs) or achieved FLOP/s per GPU (hardware FLOPs).

    >>> run = training_time(model_flops=6 * 10**21, hardware_flops=8 * 10**21, tokens=10**9,
    ...                     params=10**12, gpus=100, peak_flops_per_s=1e15, mfu=0.5)
    >>> run.seconds                     # 6e21 / (100 · 0.5 · 1e15)
    120000.0
    """
    if gpus < 1:
        raise UsageError(f"--gpus must be at least 1, got {gpus}")
    if (mfu is None) == (achieved_flops_per_s is None):
        raise UsageError("give exactly one of --mfu and --achieved-tflops")
    if achieved_flops_per_s is not None:
        if achieved_flops_per_s <= 0:
            raise UsageError(f"--achieved-tflops must be positive, got {achieved_flops_per_s / 1e12}")
        achieved = achieved_flops_per_s
        seconds = hardware_flops / (gpus * achieved)
        utilisation = model_flops / (seconds * gpus * peak_flops_per_s)
    else:
        utilisation = float(mfu or 0.0)
        if not 0 < utilisation <= 1:
            raise UsageError(f"--mfu is a fraction in (0, 1], got {mfu}; e.g. --mfu 0.4")
        seconds = model_flops / (gpus * utilisation * peak_flops_per_s)
        achieved = hardware_flops / (seconds * gpus)
    return TrainingTime(
        tokens=tokens,
        gpus=gpus,
        model_flops=model_flops,
        hardware_flops=hardware_flops,
        peak_flops_per_s=peak_flops_per_s,
        mfu=utilisation,
        achieved_flops_per_s=achieved,
        seconds=seconds,
        megatron_estimate_s=megatron_training_s(tokens, params, gpus, achieved),
    )


@dataclass(frozen=True)
class Roofline:
    """One phase on the roofline: the slower of compute time and memory time."""

    flops: int
    bytes: int
    compute_s: float
    memory_s: float

    @property
    def seconds(self) -> float:
        """The phase's lower-bound time: max(compute, memory)."""
        return max(self.compute_s, self.memory_s)

    @property
    def bound(self) -> str:
        """``"compute"`` or ``"memory"``: which limit sets the time."""
        return "compute" if self.compute_s >= self.memory_s else "memory"


def roofline(flops: int, bytes_moved: int, peak_flops_per_s: float, bandwidth_bytes_per_s: float) -> Roofline:
    """The roofline time of ``flops`` FLOPs that move ``bytes_moved`` bytes.

    >>> phase = roofline(10**12, 10**9, 1e14, 1e12)
    >>> phase.seconds, phase.bound
    (0.01, 'compute')
    """
    return Roofline(
        flops=flops,
        bytes=bytes_moved,
        compute_s=flops / peak_flops_per_s,
        memory_s=bytes_moved / bandwidth_bytes_per_s,
    )


def decode_crossover_batch(
    flops_per_sequence: float,
    weights_bytes: int,
    kv_bytes_per_sequence: int,
    peak_flops_per_s: float,
    bandwidth_bytes_per_s: float,
) -> int | None:
    """The smallest batch at which a decode step stops being memory-bound, or ``None``.

    A step of ``b`` sequences does ``b·F`` FLOPs and reads the weights once and each
    sequence's KV cache: ``W + b·K`` bytes. It is compute-bound once ``b·F/P ≥ (W + b·K)/B``,
    i.e. ``b ≥ W·P / (F·B − K·P)``. When ``F·B ≤ K·P`` (a sequence's own arithmetic intensity
    ``F/K`` is below the ridge point ``P/B``) no batch gets there: the KV cache keeps decode
    memory-bound however many sequences share the weights. ``kv_bytes_per_sequence=0`` gives
    the weights-only crossover, ``W·P/(F·B)``.

    >>> decode_crossover_batch(2e9, 2 * 10**9, 0, 1e15, 1e12)       # W·P/(F·B) = 1000
    1000
    >>> decode_crossover_batch(2e9, 2 * 10**9, 10**6, 1e15, 1e12)   # 2e24 / (2e21 − 1e21)
    2000
    >>> decode_crossover_batch(2e9, 2 * 10**9, 2 * 10**6, 1e15, 1e12) is None   # F/K = ridge
    True
    """
    if flops_per_sequence <= 0 or peak_flops_per_s <= 0 or bandwidth_bytes_per_s <= 0:
        raise UsageError("decode FLOPs, peak FLOP/s and bandwidth must be positive")
    margin = flops_per_sequence * bandwidth_bytes_per_s - kv_bytes_per_sequence * peak_flops_per_s
    if margin <= 0:
        return None
    batch = max(1, math.ceil(weights_bytes * peak_flops_per_s / margin))

    def bound(b: int) -> str:
        return roofline(int(b * flops_per_sequence), weights_bytes + b * kv_bytes_per_sequence,
                        peak_flops_per_s, bandwidth_bytes_per_s).bound

    # NB: the division above is in floats; step to the exact integer the roofline agrees with.
    while bound(batch) != "compute":
        batch += 1
    while batch > 1 and bound(batch - 1) == "compute":
        batch -= 1
    return batch
