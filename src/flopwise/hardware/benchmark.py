"""Measure the machine you are on: achieved GEMM FLOP/s per dtype and memory bandwidth.

``run_benchmark`` times square matrix multiplies (``torch.mm`` into a preallocated output) for
each precision over a few sizes, and two streaming kernels over fp32 arrays:

- ``copy``  ``b = a``          bytes moved = 2 · 4n  (one read, one write per element)
- ``triad`` ``a = b + s·c``    bytes moved = 3 · 4n  (two reads, one write per element)

Bytes are reads plus writes, the STREAM convention (a CPU's write-allocate traffic is not
counted). Every case runs ``warmup`` untimed calls, then ``repeats`` timed calls, and reports the
median. On CUDA each call is timed with CUDA events after a synchronisation; on CPU with
``time.perf_counter``. A GEMM size whose predicted time (the previous size's median scaled by
the cube of the size ratio, times warm-up plus repeats) exceeds the budget is skipped and
recorded as skipped — CPU fp16 matmuls, for instance, can be 100× slower than fp32.

With ``settings.micro`` (every preset sets it) the run also measures the calibration tables of
the calibrated time model (:mod:`flopwise.hardware.microbench`: achieved FLOP/s by kernel class
and size, bandwidth by size, the fixed per-op cost, the call cost of the common layers, the
first write of fresh pages), with the torch thread count the caller has set; the profile carries
them under ``calibration`` (``flopwise.calibration/3``). Profiles
written before them still load as accelerators; only the calibrated model needs them.

The result converts to a *hardware profile* (:meth:`DeviceBenchmark.to_profile`), a JSON object
with the fields of a catalogue entry, which ``get_accelerator(path)`` loads: its peaks are the
best achieved medians, so a roofline estimate against it is an "achievable" roofline.

torch is imported inside the functions that need it, so importing this module is free. The
library never prints: pass ``progress`` to observe the run.

>>> bench = run_benchmark("cpu", settings=BenchSettings(
...     gemm_sizes=(64,), precisions=("fp32",), bandwidth_elements=2**16, warmup=1, repeats=3))
>>> bench.to_accelerator().peak_flops["fp32"] > 0
True
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from flopwise.errors import MissingExtraError, UsageError
from flopwise.hardware.calibration import CalibrationTable
from flopwise.hardware.catalogue import PRECISIONS, PROFILE_SCHEMA, Accelerator, accelerator_from_dict
from flopwise.hardware.microbench import MicroSettings, case_count, micro_settings_for, run_microbenchmarks

__all__ = [
    "MODES",
    "BenchSettings",
    "BenchProgress",
    "GemmResult",
    "BandwidthResult",
    "SkippedCase",
    "DeviceBenchmark",
    "settings_for",
    "run_benchmark",
]

#: Named presets of :func:`settings_for`.
MODES: tuple[str, ...] = ("quick", "default", "full")

_FP32_BYTES = 4

# precision key -> torch dtype attribute name
_TORCH_DTYPE: dict[str, str] = {
    "fp64": "float64",
    "fp32": "float32",
    "tf32": "float32",
    "bf16": "bfloat16",
    "fp16": "float16",
}


@dataclass(frozen=True)
class BenchSettings:
    """What to measure and how often.

    ``precisions`` are keys of :data:`~flopwise.hardware.catalogue.PRECISIONS` among ``fp64``,
    ``fp32``, ``tf32`` (CUDA only: fp32 inputs with TF32 tensor cores), ``bf16``, ``fp16``.
    ``bandwidth_elements`` is the fp32 length of each streaming array. ``max_case_s`` is the
    budget of one GEMM case (warm-up plus repeats) used to skip sizes predicted to exceed it.
    ``micro``: the calibration microbenchmarks to run as well (``None``: none).
    """

    gemm_sizes: tuple[int, ...]
    precisions: tuple[str, ...]
    bandwidth_elements: int
    warmup: int = 2
    repeats: int = 5
    max_case_s: float = 2.0
    micro: MicroSettings | None = None

    def __post_init__(self) -> None:
        if not self.gemm_sizes or any(n <= 0 for n in self.gemm_sizes):
            raise UsageError(f"bench-device: GEMM sizes must be positive, got {self.gemm_sizes!r}")
        unknown = [p for p in self.precisions if p not in _TORCH_DTYPE]
        if unknown:
            raise UsageError(
                f"bench-device: cannot benchmark precision(s) {', '.join(unknown)}; "
                f"use {', '.join(_TORCH_DTYPE)}"
            )
        if self.bandwidth_elements <= 0 or self.warmup < 0 or self.repeats < 1:
            raise UsageError(
                "bench-device: bandwidth_elements and repeats must be >= 1 and warmup >= 0, got "
                f"{self.bandwidth_elements}, {self.repeats}, {self.warmup}"
            )


def settings_for(mode: str, device_type: str) -> BenchSettings:
    """The preset for ``mode`` ('quick', 'default', 'full') on ``device_type`` ('cpu', 'cuda').

    The CPU presets are sized for a small machine: 'quick' finishes in well under a minute on two
    idle cores, calibration tables included (about 20 s); 'default' and 'full' sample longer.

    >>> settings_for("quick", "cpu").gemm_sizes
    (128, 256)
    """
    cuda = device_type == "cuda"
    base = ("fp32", "tf32", "bf16", "fp16") if cuda else ("fp32", "bf16", "fp16")
    sizes: tuple[int, ...]
    if mode == "quick":
        sizes = (1024, 2048) if cuda else (128, 256)
        return BenchSettings(sizes, base, 2**24 if cuda else 2**22, warmup=1, repeats=3,
                             max_case_s=0.5, micro=micro_settings_for(mode))
    if mode == "default":
        sizes = (1024, 2048, 4096, 8192) if cuda else (256, 512, 1024, 2048)
        return BenchSettings(sizes, base, 2**28 if cuda else 2**25, warmup=2, repeats=5,
                             max_case_s=2.0, micro=micro_settings_for(mode))
    if mode == "full":
        sizes = (1024, 2048, 4096, 8192, 16384) if cuda else (256, 512, 1024, 2048, 4096)
        return BenchSettings(
            sizes, ("fp64", *base), 2**29 if cuda else 2**26, warmup=3, repeats=10,
            max_case_s=10.0, micro=micro_settings_for(mode))
    raise UsageError(f"bench-device: unknown mode {mode!r}; use {', '.join(MODES)}")


@dataclass(frozen=True)
class BenchProgress:
    """One progress report: ``completed`` of ``total`` cases done, ``description`` runs next."""

    completed: int
    total: int
    description: str


@dataclass(frozen=True)
class GemmResult:
    """``size``×``size``×``size`` matmul in ``precision``: ``flops`` = 2·size³ per call."""

    precision: str
    size: int
    flops: int
    median_s: float
    flops_per_s: float


@dataclass(frozen=True)
class BandwidthResult:
    """A streaming kernel over ``elements`` fp32 values moving ``bytes_moved`` per call."""

    kernel: str
    elements: int
    bytes_moved: int
    median_s: float
    bytes_per_s: float


@dataclass(frozen=True)
class SkippedCase:
    """A case not measured, and why (unsupported dtype, predicted over budget)."""

    case: str
    reason: str


@dataclass(frozen=True)
class DeviceBenchmark:
    """Everything one ``run_benchmark`` measured, plus where and when."""

    device_type: str
    device_name: str
    torch_version: str
    measured_at: str
    threads: int
    memory_bytes: int
    settings: BenchSettings
    gemm: tuple[GemmResult, ...]
    bandwidth: tuple[BandwidthResult, ...]
    skipped: tuple[SkippedCase, ...] = field(default=())
    calibration: CalibrationTable | None = None

    @property
    def peak_flops(self) -> dict[str, float]:
        """Best median achieved FLOP/s per precision over all sizes."""
        best: dict[str, float] = {}
        for result in self.gemm:
            best[result.precision] = max(best.get(result.precision, 0.0), result.flops_per_s)
        return {p: best[p] for p in PRECISIONS if p in best}

    @property
    def bandwidth_bytes_per_s(self) -> float:
        """Best median achieved bandwidth over the streaming kernels."""
        return max(result.bytes_per_s for result in self.bandwidth)

    @property
    def source(self) -> str:
        """``measured by flopwise bench-device on <date>, <device>, torch <version>``."""
        return (
            f"measured by flopwise bench-device on {self.measured_at[:10]}, "
            f"{self.device_name}, torch {self.torch_version}"
        )

    def to_profile(self) -> dict[str, Any]:
        """The hardware-profile JSON object (loadable with ``get_accelerator(path)``)."""
        peaks = self.peak_flops
        if not peaks:
            raise UsageError(
                "bench-device measured no GEMM precision (all skipped); "
                "allow more time with --full or choose another --device"
            )
        profile: dict[str, Any] = {
            "schema": PROFILE_SCHEMA,
            "id": f"measured-{self.device_type}",
            "name": f"{self.device_name} (measured)",
            "vendor": "",
            "kind": self.device_type,
            "peak_flops": peaks,
            "fp64_tensor_flops_per_s": None,
            "memory_bytes": self.memory_bytes,
            "memory_type": "",
            "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
            "source": self.source,
            "notes": (
                "peaks are the best median achieved GEMM FLOP/s over the measured sizes; "
                "bandwidth is the best median of the copy and triad kernels (reads + writes)"
            ),
            "measurements": {
                "measured_at": self.measured_at,
                "threads": self.threads,
                "settings": {
                    "gemm_sizes": list(self.settings.gemm_sizes),
                    "precisions": list(self.settings.precisions),
                    "bandwidth_elements": self.settings.bandwidth_elements,
                    "warmup": self.settings.warmup,
                    "repeats": self.settings.repeats,
                    "max_case_s": self.settings.max_case_s,
                    "micro": asdict(self.settings.micro) if self.settings.micro else None,
                },
                "gemm": [asdict(result) for result in self.gemm],
                "bandwidth": [asdict(result) for result in self.bandwidth],
                "skipped": [asdict(case) for case in self.skipped],
            },
        }
        if self.calibration is not None:
            profile["calibration"] = self.calibration.to_dict()
        return profile

    def to_accelerator(self) -> Accelerator:
        """The measured machine as an :class:`Accelerator` record."""
        return accelerator_from_dict(self.to_profile(), "bench-device result")


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingExtraError("torch", "torch", "flopwise bench-device") from None
    return torch


def _resolve_device(torch: Any, device: str) -> Any:
    wanted = device.strip().lower()
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    if wanted != "cpu" and not (wanted == "cuda" or wanted.startswith("cuda:")):
        raise UsageError(f"bench-device: unknown device {device!r}; use auto, cpu, cuda or cuda:N")
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(
            f"bench-device: device {device!r} requested but torch sees no CUDA GPU; "
            "use --device cpu or a CUDA build of torch"
        )
    resolved = torch.device(wanted)
    if resolved.type == "cuda" and resolved.index is None:
        resolved = torch.device("cuda", torch.cuda.current_device())
    return resolved


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _physical_memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    import ctypes  # Windows has no sysconf

    class _MemoryStatus(ctypes.Structure):
        _fields_ = [
            ("length", ctypes.c_ulong),
            ("memory_load", ctypes.c_ulong),
            ("total_phys", ctypes.c_ulonglong),
            ("avail_phys", ctypes.c_ulonglong),
            ("total_page_file", ctypes.c_ulonglong),
            ("avail_page_file", ctypes.c_ulonglong),
            ("total_virtual", ctypes.c_ulonglong),
            ("avail_virtual", ctypes.c_ulonglong),
            ("avail_extended_virtual", ctypes.c_ulonglong),
        ]

    status = _MemoryStatus()
    status.length = ctypes.sizeof(_MemoryStatus)
    ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status))  # type: ignore[attr-defined]
    return int(status.total_phys)


def _median_seconds(torch: Any, device: Any, call: Callable[[], Any], warmup: int, repeats: int) -> float:
    """Median wall time of ``call`` over ``repeats`` timed runs after ``warmup`` untimed ones."""
    cuda = device.type == "cuda"
    for _ in range(warmup):
        call()
    if cuda:
        torch.cuda.synchronize(device)
    times: list[float] = []
    for _ in range(repeats):
        if cuda:
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            call()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            begin = time.perf_counter()
            call()
            times.append(time.perf_counter() - begin)
    return statistics.median(times)


def _gemm_case(torch: Any, device: Any, precision: str, size: int, settings: BenchSettings) -> GemmResult:
    dtype = getattr(torch, _TORCH_DTYPE[precision])
    generator = torch.Generator(device=device)
    generator.manual_seed(0)
    a = torch.rand(size, size, generator=generator, device=device, dtype=dtype)
    b = torch.rand(size, size, generator=generator, device=device, dtype=dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    previous = torch.get_float32_matmul_precision()
    # fp32 is measured at full precision and tf32 with TF32 tensor cores, whatever the caller set.
    torch.set_float32_matmul_precision("high" if precision == "tf32" else "highest")
    try:
        median_s = _median_seconds(
            torch, device, lambda: torch.mm(a, b, out=out), settings.warmup, settings.repeats
        )
    finally:
        torch.set_float32_matmul_precision(previous)
    flops = 2 * size**3
    return GemmResult(precision, size, flops, median_s, flops / median_s)


def _bandwidth_cases(torch: Any, device: Any, settings: BenchSettings,
                     ) -> list[tuple[str, Callable[[], BandwidthResult]]]:
    n = settings.bandwidth_elements

    def arrays(count: int) -> list[Any]:
        return [torch.full((n,), float(i + 1), device=device, dtype=torch.float32) for i in range(count)]

    def copy() -> BandwidthResult:
        a, b = arrays(2)
        median_s = _median_seconds(torch, device, lambda: b.copy_(a), settings.warmup, settings.repeats)
        moved = 2 * _FP32_BYTES * n
        return BandwidthResult("copy", n, moved, median_s, moved / median_s)

    def triad() -> BandwidthResult:
        a, b, c = arrays(3)
        median_s = _median_seconds(
            torch, device, lambda: torch.add(b, c, alpha=3.0, out=a), settings.warmup, settings.repeats
        )
        moved = 3 * _FP32_BYTES * n
        return BandwidthResult("triad", n, moved, median_s, moved / median_s)

    return [("copy", copy), ("triad", triad)]


def run_benchmark(
    device: str = "auto",
    mode: str = "default",
    *,
    settings: BenchSettings | None = None,
    progress: Callable[[BenchProgress], None] | None = None,
) -> DeviceBenchmark:
    """Measure ``device`` ('auto' = the GPU when torch sees one, else 'cpu'; or 'cuda:N').

    ``settings`` overrides the ``mode`` preset (:func:`settings_for`). ``progress`` is called
    before each case and once at the end (``completed == total``).

    Raises :class:`~flopwise.errors.MissingExtraError` without torch, and
    :class:`~flopwise.errors.UsageError` for an unknown or unavailable device.
    """
    torch = _import_torch()
    target = _resolve_device(torch, device)
    chosen = settings or settings_for(mode, target.type)
    precisions = [p for p in chosen.precisions if not (p == "tf32" and target.type != "cuda")]
    skipped: list[SkippedCase] = []
    if len(precisions) < len(chosen.precisions):
        skipped.append(SkippedCase("gemm tf32", "TF32 tensor cores exist only on CUDA devices"))
    bandwidth_cases = _bandwidth_cases(torch, target, chosen)
    micro_cases = case_count(chosen.micro) if chosen.micro is not None else 0
    total = len(precisions) * len(chosen.gemm_sizes) + len(bandwidth_cases) + micro_cases
    done = 0

    def report(description: str) -> None:
        if progress is not None:
            progress(BenchProgress(done, total, description))

    gemm: list[GemmResult] = []
    for precision in precisions:
        last: GemmResult | None = None
        unsupported = ""
        for size in sorted(chosen.gemm_sizes):
            case = f"gemm {precision} {size}³"
            report(case)
            done += 1
            if unsupported:
                skipped.append(SkippedCase(case, unsupported))
                continue
            if last is not None:
                predicted_s = last.median_s * (size / last.size) ** 3 * (chosen.warmup + chosen.repeats)
                if predicted_s > chosen.max_case_s:
                    skipped.append(SkippedCase(
                        case, f"predicted {predicted_s:.1f} s > budget {chosen.max_case_s:.1f} s"
                    ))
                    continue
            try:
                last = _gemm_case(torch, target, precision, size, chosen)
            except RuntimeError as error:
                unsupported = f"not supported here: {str(error).splitlines()[0]}"
                skipped.append(SkippedCase(case, unsupported))
                continue
            gemm.append(last)
    bandwidth: list[BandwidthResult] = []
    for name, measure in bandwidth_cases:
        report(f"bandwidth {name}, {chosen.bandwidth_elements} fp32 elements")
        done += 1
        bandwidth.append(measure())
    calibration = None
    if chosen.micro is not None:

        def micro_case(description: str) -> None:
            nonlocal done
            report(f"calibration: {description}")
            done = min(done + 1, total)

        calibration = run_microbenchmarks(target, chosen.micro, micro_case)
    report("done")

    if target.type == "cuda":
        properties = torch.cuda.get_device_properties(target)
        device_name, memory_bytes, threads = properties.name, int(properties.total_memory), 0
    else:
        threads = torch.get_num_threads()
        device_name, memory_bytes = f"{_cpu_name()}, {threads} threads", _physical_memory_bytes()
    if calibration is not None:
        calibration = replace(calibration, device=device_name)
    return DeviceBenchmark(
        device_type=target.type,
        device_name=device_name,
        torch_version=str(torch.__version__),
        measured_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        threads=threads,
        memory_bytes=memory_bytes,
        settings=chosen,
        gemm=tuple(gemm),
        bandwidth=tuple(bandwidth),
        skipped=tuple(skipped),
        calibration=calibration,
    )
