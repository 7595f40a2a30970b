"""Microbenchmarks of the kernel classes a model is made of, independent of any model.

:func:`run_microbenchmarks` measures, on the device and with the torch thread count the caller
has set, the tables of a :class:`~flopwise.hardware.calibration.CalibrationTable`:

- GEMM (``F.linear`` with a bias, as ``addmm``) over square, skinny and tall shapes; batched
  matmul (``bmm``) and scaled-dot-product attention at attention-like shapes;
- 2-D convolutions in NCHW at batch 1 and 4: dense 3×3 (and the 7×7 / 3×3 stride-2 stems),
  pointwise 1×1, depthwise 3×3 and 5×5 and grouped 3×3 (8 and 16 channels per group), over
  channel counts and spatial sizes from 7² to 112²;
- pooling (``pool``, a compute class timed by its window comparisons): max 3×3 and 2×2, average
  2×2, stride 1 and 2, over the same channel and spatial range;
- bandwidth by size: an out-of-place add (``elementwise``, 12 bytes per element), a mean over
  7×7 planes (``reduction``), a transposing copy (``copy``: what ``contiguous``, ``cat`` and
  friends do) from 1 KiB to tens of MiB — the small sizes run from cache — and batch norm in
  eval mode over NCHW shapes (``norm``: its per-channel work shows at small planes);
- the fixed cost of one op: a one-element add (dispatch plus allocation, ``op``), a ``view``
  (``view``), the call of an empty ``nn.Module`` (``module``: Python's share of eager
  execution), and the smallest instance of every class and kind (a 4×4 depthwise convolution,
  a one-element batch norm, …): set-up costs that differ by class by two orders of magnitude.
  Each is timed twice: alone in a loop (``overhead_s``, what the loops above paid per call,
  which their rates are net of) and interleaved, all of them one after another round after
  round (``interleaved_s``, what an op pays in a network, where the op before it was of
  another kind: several times more, :func:`_interleaved_s`);
- the Python cost of the common ``torch.nn`` layers (``layer_s``): tiny instances of
  ``Conv2d``, ``BatchNorm2d``, ``Linear``, ``LayerNorm``, the activations, pooling, ``Dropout``,
  ``Identity``, ``Flatten`` called one after another, round after round, against the same
  rotation of the functional calls their ``forward`` makes (:func:`_layer_s`);
- the first write of a freshly allocated buffer (``fresh_pages``, CPU only): filling a new
  buffer of 8 to 64 MiB (8, 16, 24, 33, 48, 64) against filling one already in use (:func:`_fresh_pages`).

Each case is timed as the median over ``repeats`` samples, each sample a loop of enough calls to
last about ``sample_s`` (so that microsecond ops are timed as well as 100-ms convolutions); on
CUDA a sample is synchronised before and after. FLOPs are 2 per multiply-accumulate and bytes
are inputs read plus outputs written, as the formula table counts them.

Operands are **cold**, as in a network: a case does not call its kernel on one input again and
again (which keeps input and weights in the core's caches and measures rates no network sees —
there, every weight is read once per forward), but rotates through copies of its operands laid
side by side in one random buffer of ``cold_bytes`` (64 MiB, above the last-level cache), so
that each call reads operands no recent call touched (:func:`cold_operands`). Every call writes a
freshly allocated output, as a network's ops do. Only the fixed costs (the smallest instances,
one cache line of data) are timed hot.

>>> table = run_microbenchmarks("cpu", MicroSettings(repeats=1, sample_s=1e-4, scale=0))
>>> sorted(table.compute)
['attention', 'bmm', 'conv_dense', 'conv_grouped', 'conv_pointwise', 'gemm', 'pool']
>>> sorted(table.memory), table.overhead_s["op"] > 0
(['copy', 'elementwise', 'norm', 'reduction'], True)
"""

from __future__ import annotations

import itertools
import operator
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from math import prod
from typing import Any

from flopwise.hardware.calibration import BandwidthPoint, CalibrationTable, KernelPoint

__all__ = ["MicroSettings", "cold_operands", "micro_settings_for", "run_microbenchmarks",
           "case_count"]

_F32 = 4
#: Most copies of a case's operands in its rotation (bounds the set-up time of tiny cases, whose
#: 1024 copies still exceed the per-core caches).
_MAX_COPIES = 1024
#: Rounds of the interleaved fixed-cost measurement per repeat.
_INTERLEAVED_ROUNDS = 40
#: Copies start on 64-byte boundaries (a cache line; aligned vector loads).
_ALIGN = 16

#: (in channels, out channels, spatial size, kernel, stride, groups) of the convolution cases.
_DENSE = ((3, 64, 224, 7, 2, 1), (3, 32, 224, 3, 2, 1), (16, 16, 112, 3, 1, 1),
          (64, 64, 56, 3, 1, 1), (128, 128, 28, 3, 1, 1), (256, 256, 14, 3, 1, 1),
          (512, 512, 7, 3, 1, 1), (64, 128, 56, 3, 2, 1), (32, 32, 28, 3, 1, 1))
_POINTWISE = ((16, 64, 112, 1, 1, 1), (24, 144, 56, 1, 1, 1), (144, 24, 56, 1, 1, 1),
              (64, 256, 56, 1, 1, 1), (256, 64, 56, 1, 1, 1), (128, 512, 28, 1, 1, 1),
              (512, 128, 28, 1, 1, 1), (40, 240, 28, 1, 1, 1), (256, 1024, 14, 1, 1, 1),
              (1024, 256, 14, 1, 1, 1), (96, 576, 14, 1, 1, 1), (512, 2048, 7, 1, 1, 1),
              (2048, 512, 7, 1, 1, 1), (160, 960, 7, 1, 1, 1), (24, 24, 28, 1, 1, 1),
              (58, 58, 28, 1, 1, 1), (232, 232, 7, 1, 1, 1), (64, 16, 56, 1, 1, 1),
              (1024, 128, 7, 1, 1, 1))
_GROUPED = ((32, 32, 112, 3, 1, 32), (144, 144, 56, 3, 1, 144), (240, 240, 28, 5, 1, 240),
            (480, 480, 14, 3, 1, 480), (960, 960, 7, 3, 1, 960), (672, 672, 14, 5, 1, 672),
            (96, 96, 56, 3, 2, 96), (64, 64, 56, 3, 1, 8), (128, 128, 28, 3, 1, 8),
            (256, 256, 14, 3, 1, 16), (48, 48, 56, 3, 1, 6), (58, 58, 28, 3, 1, 58),
            (116, 116, 28, 3, 2, 116), (232, 232, 7, 3, 1, 232), (24, 24, 56, 3, 2, 24),
            (72, 72, 28, 5, 1, 72))
#: (rows, reduction, columns) of the GEMM cases.
_GEMM = tuple((m, k, n) for m in (1, 8, 64, 256, 1024)
              for k, n in ((512, 1000), (1024, 4096), (4096, 1024), (768, 768))) + (
    (128, 128, 128), (256, 256, 256), (512, 512, 512), (1, 9216, 4096), (8, 9216, 4096))
#: (batch, rows, reduction, columns) of the batched-matmul cases.
_BMM = ((12, 197, 64, 197), (12, 197, 197, 64), (192, 49, 32, 49), (192, 49, 49, 32),
        (96, 197, 64, 197), (96, 197, 197, 64), (12, 50, 64, 50), (1536, 49, 32, 49))
#: (batch, heads, sequence, head dim) of the attention cases.
_SDPA = ((1, 12, 197, 64), (8, 12, 197, 64), (1, 12, 50, 64), (64, 3, 49, 32))
#: (channels, spatial size, window, stride, max or average) of the pooling cases.
_POOL = ((64, 112, 3, 2, "max"), (24, 112, 3, 2, "max"), (192, 56, 3, 2, "max"),
         (480, 28, 3, 1, "max"), (832, 14, 3, 1, "max"), (96, 55, 3, 2, "max"),
         (128, 56, 2, 2, "avg"), (512, 14, 2, 2, "avg"), (256, 13, 3, 2, "max"),
         (64, 56, 3, 1, "max"))
#: (channels, spatial size) of the normalisation cases (batch norm in eval, NCHW).
_NORM = ((16, 112), (64, 112), (64, 56), (256, 56), (128, 28), (512, 28), (256, 14),
         (1024, 14), (512, 7), (2048, 7), (58, 28), (232, 7))


@dataclass(frozen=True)
class MicroSettings:
    """How long to sample each case: ``repeats`` samples of about ``sample_s`` each, after one
    warm-up sample. ``scale`` picks the grid: 0 a token grid (tests), 1 every kernel case and
    a bandwidth point every 4× in size, 2 the same with a point every 2×. ``cpu_time`` times
    with the process's CPU time instead of the wall clock (CPU only: on a loaded machine and one
    thread it approximates the wall time an idle machine would show). ``cold_bytes``: the size of
    the random buffer whose copies of the operands each case rotates through (module docstring)."""

    repeats: int = 5
    sample_s: float = 2e-3
    scale: int = 1
    cpu_time: bool = False
    cold_bytes: int = 64 << 20


def micro_settings_for(mode: str) -> MicroSettings:
    """The microbenchmark settings of a ``bench-device`` mode.

    >>> micro_settings_for("quick")
    MicroSettings(repeats=5, sample_s=0.002, scale=1, cpu_time=False, cold_bytes=67108864)
    """
    if mode == "quick":
        return MicroSettings(5, 2e-3, 1)
    return MicroSettings(7, 5e-3, 2)


def _batches(settings: MicroSettings) -> tuple[int, ...]:
    # NB: a geometric grid of batches: a batch between two is interpolated from both
    return (1,) if settings.scale < 1 else (1, 4, 16)


def _conv_cases(settings: MicroSettings) -> Iterator[tuple[str, tuple[int, ...]]]:
    batches = _batches(settings)
    groups = {"conv_dense": _DENSE, "conv_pointwise": _POINTWISE, "conv_grouped": _GROUPED}
    for kind, shapes in groups.items():
        chosen = shapes[:2] if settings.scale < 1 else shapes
        for batch in batches:
            for shape in chosen:
                yield kind, (batch, *shape)


def _bandwidth_sizes(settings: MicroSettings) -> tuple[int, ...]:
    if settings.scale < 1:
        return (2**8, 2**12)
    step = 1 if settings.scale > 1 else 2
    return tuple(2**k for k in range(8, 24, step))


def case_count(settings: MicroSettings) -> int:
    """How many steps :func:`run_microbenchmarks` reports to ``progress`` with ``settings``."""
    small = settings.scale < 1
    matmul = 3 if small else len(_GEMM) + len(_BMM) + len(_SDPA)
    shaped = 1 if small else len(_POOL)
    return (sum(1 for _ in _conv_cases(settings)) + len(_norm_cases(settings)) + matmul + shaped
            + len(_bandwidth_sizes(settings)) + 17)


def cold_operands(pool: Any, *shapes: tuple[int, ...]) -> Iterator[tuple[Any, ...]]:
    """An endless rotation of operand tuples of ``shapes``, each copy its own region of ``pool``.

    As many copies as fit in ``pool`` (a flat tensor; at most ``_MAX_COPIES``), each starting
    on a 64-byte boundary: cycling through them, a call reads operands the previous
    ``copies - 1`` calls did not touch. Operands larger than half the pool get one copy of their
    own from a fresh random buffer (they exceed the caches by themselves).

    >>> import torch
    >>> pool = torch.arange(64.0)
    >>> rotation = cold_operands(pool, (2, 3), (4,))  # 6 and 4 elements, each padded to 16
    >>> [tuple(t.flatten().tolist()[0] for t in next(rotation)) for _ in range(3)]  # 2 copies
    [(0.0, 16.0), (32.0, 48.0), (0.0, 16.0)]
    """
    return itertools.cycle(_copies(pool, shapes))


def _copies(pool: Any, shapes: tuple[tuple[int, ...], ...]) -> list[tuple[Any, ...]]:
    sizes = [-(-prod(shape) // _ALIGN) * _ALIGN for shape in shapes]
    stride = sum(sizes)
    copies = min(_MAX_COPIES, pool.numel() // stride)
    if copies < 2:
        import torch

        pool, copies = torch.rand(stride, device=pool.device, dtype=pool.dtype), 1
    return [tuple(pool[start:start + prod(shape)].view(shape)
                  for start, shape in zip(itertools.accumulate(sizes, initial=copy * stride),
                                          shapes))
            for copy in range(copies)]


def _sampler(torch: Any, device: Any, settings: MicroSettings
             ) -> tuple[Callable[[Callable[[], Any]], float], Callable[[Callable[[], Any], int], float]]:
    """(median seconds per call of a case, seconds of a loop of ``calls`` calls)."""
    cuda = device.type == "cuda"
    clock = time.process_time if settings.cpu_time and not cuda else time.perf_counter

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    def loop_s(call: Callable[[], Any], calls: int) -> float:
        sync()
        begin = clock()
        for _ in range(calls):
            call()
        sync()
        return clock() - begin

    def per_call_s(call: Callable[[], Any]) -> float:
        first = loop_s(call, 1)  # also the warm-up
        calls = max(1, min(10_000, int(settings.sample_s / max(first, 1e-7))))
        loop_s(call, calls)
        return statistics.median(loop_s(call, calls) / calls for _ in range(settings.repeats))

    return per_call_s, loop_s


def _interleaved_s(calls: dict[str, Callable[[], Any]],
                   loop_s: Callable[[Callable[[], Any], int], float], rounds: int) -> dict[str, float]:
    """The median time of each call when ``calls`` run one after another, round after round.

    A network never runs one op twice in a row: between two calls of a kind, other kinds run,
    and the code, branch history and allocator state of the first are no longer warm. Timed
    alone in a loop, the smallest instances cost a few µs; in this rotation, several times more.
    """
    # NB: each call is timed by itself, so each figure includes one read of the clock
    times: dict[str, list[float]] = {kind: [] for kind in calls}
    for _ in range(rounds):
        for kind, call in calls.items():
            times[kind].append(loop_s(call, 1))
    return {kind: statistics.median(seconds) for kind, seconds in times.items()}


def _conv_point(torch: Any, pool: Any, timer: Callable[[Callable[[], Any]], float],
                case: tuple[int, ...]) -> KernelPoint:
    batch, cin, cout, size, kernel, stride, groups = case
    x, w = (batch, cin, size, size), (cout, cin // groups, kernel, kernel)
    operands = cold_operands(pool, x, w)
    pad = kernel // 2
    out = (size + 2 * pad - kernel) // stride + 1
    macs = batch * cout * out * out * (cin // groups) * kernel * kernel
    moved = _F32 * (prod(x) + prod(w) + batch * cout * out * out)
    conv = torch.nn.functional.conv2d
    return KernelPoint(2 * macs, moved,
                       timer(lambda: conv(*next(operands), None, stride, pad, 1, groups)))


def _gemm_point(torch: Any, pool: Any, timer: Callable[[Callable[[], Any]], float],
                m: int, k: int, n: int) -> KernelPoint:
    operands = cold_operands(pool, (m, k), (n, k), (n,))
    moved = _F32 * (m * k + n * k + n + m * n)
    return KernelPoint(2 * m * k * n, moved,
                       timer(lambda: torch.nn.functional.linear(*next(operands))))


def _bmm_point(torch: Any, pool: Any, timer: Callable[[Callable[[], Any]], float],
               b: int, m: int, k: int, n: int) -> KernelPoint:
    operands = cold_operands(pool, (b, m, k), (b, k, n))
    moved = _F32 * b * (m * k + k * n + m * n)
    return KernelPoint(2 * b * m * k * n, moved, timer(lambda: torch.bmm(*next(operands))))


def _sdpa_point(torch: Any, pool: Any, timer: Callable[[Callable[[], Any]], float],
                b: int, h: int, s: int, d: int) -> KernelPoint:
    operands = cold_operands(pool, *([(b, h, s, d)] * 3))
    attend = torch.nn.functional.scaled_dot_product_attention
    # two contractions of b·h·s·s·d MACs each; q, k, v read and the output written
    return KernelPoint(4 * b * h * s * s * d, _F32 * 4 * b * h * s * d,
                       timer(lambda: attend(*next(operands))))


def run_microbenchmarks(device: Any, settings: MicroSettings | None = None,
                        progress: Callable[[str], None] | None = None) -> CalibrationTable:
    """Measure the calibration tables on ``device`` (a ``torch.device`` or its name).

    ``progress`` is called with each case's description before it runs.
    """
    import torch

    chosen = settings or MicroSettings()
    target = torch.device(device)
    timer, loop_s = _sampler(torch, target, chosen)
    # uniform in [0, 1): positive (a valid variance for batch norm), no denormals
    pool = torch.rand(max(chosen.cold_bytes // _F32, 1), device=target)

    def note(text: str) -> None:
        if progress is not None:
            progress(text)

    with torch.no_grad():
        compute: dict[str, list[KernelPoint]] = {}
        for kind, case in _conv_cases(chosen):
            note(f"{kind} {case}")
            compute.setdefault(kind, []).append(_conv_point(torch, pool, timer, case))
        small = chosen.scale < 1
        for m, k, n in (_GEMM[:1] if small else _GEMM):
            note(f"gemm {m}x{k}x{n}")
            compute.setdefault("gemm", []).append(_gemm_point(torch, pool, timer, m, k, n))
        for shape in (_BMM[:1] if small else _BMM):
            note(f"bmm {shape}")
            compute.setdefault("bmm", []).append(_bmm_point(torch, pool, timer, *shape))
        for shape in (_SDPA[:1] if small else _SDPA):
            note(f"attention {shape}")
            compute.setdefault("attention", []).append(_sdpa_point(torch, pool, timer, *shape))
        for pooling in (_POOL[:1] if small else _POOL):
            note(f"pool {pooling}")
            compute.setdefault("pool", []).append(_pool_point(torch, pool, timer, pooling))
        memory = _bandwidth(pool, timer, chosen, note)
        memory["norm"] = []
        for batch, channels, size in _norm_cases(chosen):
            note(f"norm {batch}x{channels}x{size}²")
            memory["norm"].append(_norm_point(torch, pool, timer, batch, channels, size))
        note("per-op overhead")
        one = torch.ones(1, device=target)
        empty = torch.nn.Module()
        empty.forward = lambda: None  # type: ignore[method-assign]
        smallest: dict[str, Callable[[], Any]] = {
            "op": lambda: torch.add(one, one), "view": lambda: one.view(-1), "module": empty,
            **_smallest(torch, target)}
        overhead = {}
        for kind, call in smallest.items():
            note(f"fixed cost of {kind}")
            overhead[kind] = timer(call)
        note("fixed costs interleaved")
        interleaved = _interleaved_s(smallest, loop_s, _INTERLEAVED_ROUNDS * chosen.repeats)
        note("nn layer calls")
        layers = _layer_s(torch, target, loop_s, _INTERLEAVED_ROUNDS * chosen.repeats)
        note("fresh pages")
        fresh = () if target.type == "cuda" else _fresh_pages(torch, loop_s, chosen)
    threads = 0 if target.type == "cuda" else torch.get_num_threads()
    return CalibrationTable(
        compute={k: tuple(v) for k, v in compute.items()},
        memory={k: tuple(v) for k, v in memory.items()},
        overhead_s=overhead, interleaved_s=interleaved, threads=threads, device=str(target),
        layer_s=layers, fresh_pages=fresh)


def _bandwidth(pool: Any, timer: Callable[[Callable[[], Any]], float],
               settings: MicroSettings, note: Callable[[str], None]
               ) -> dict[str, list[BandwidthPoint]]:
    memory: dict[str, list[BandwidthPoint]] = {"elementwise": [], "reduction": [], "copy": []}
    for n in _bandwidth_sizes(settings):
        note(f"bandwidth {n} fp32 elements")
        pairs = cold_operands(pool, (n,), (n,))
        memory["elementwise"].append(BandwidthPoint(3 * _F32 * n, timer(_each(operator.add, pairs))))
        # 49 of every 64 elements: n / 64 planes of 7×7, averaged
        planes = itertools.cycle([(x[:, :49].reshape(-1, 7, 7), (-2, -1))
                                  for (x,) in _copies(pool, ((n // 64, 64),))])
        memory["reduction"].append(BandwidthPoint(_F32 * (49 * (n // 64) + n // 64),
                                                  timer(_each(_mean, planes))))
        transposed = itertools.cycle([(x.t(),) for (x,) in _copies(pool, ((64, n // 64),))])
        memory["copy"].append(BandwidthPoint(2 * _F32 * n, timer(_each(_contiguous, transposed))))
    return memory


def _each(call: Callable[..., Any], rotation: Iterator[tuple[Any, ...]]) -> Callable[[], Any]:
    """A call of ``call`` on the next operands of ``rotation``."""
    return lambda: call(*next(rotation))


def _mean(x: Any, dims: tuple[int, ...]) -> Any:
    return x.mean(dims)


def _contiguous(x: Any) -> Any:
    return x.contiguous()


def _layer_s(torch: Any, device: Any, loop_s: Callable[[Callable[[], Any], int], float],
             rounds: int) -> dict[str, float]:
    """Per ``torch.nn`` layer class, the interleaved time of calling a tiny instance less that
    of the functional call its ``forward`` makes (what the time model charges as ops): the
    module call and the Python of ``forward``. ``Dropout`` in eval and ``Identity`` record no
    op: their whole call counts.
    """
    nn, functional = torch.nn, torch.nn.functional
    x, row = torch.ones(1, 2, 4, 4, device=device), torch.ones(1, 4, device=device)
    conv, norm = nn.Conv2d(2, 2, 3, padding=1).to(device), nn.BatchNorm2d(2).to(device).eval()
    linear, layer_norm = nn.Linear(4, 4).to(device), nn.LayerNorm(4).to(device)
    pairs: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "Conv2d": (lambda: conv(x), lambda: functional.conv2d(x, conv.weight, conv.bias, 1, 1)),
        "BatchNorm2d": (lambda: norm(x), lambda: functional.batch_norm(
            x, norm.running_mean, norm.running_var, norm.weight, norm.bias, False, 0.1, 1e-5)),
        "Linear": (lambda: linear(row),
                   lambda: functional.linear(row, linear.weight, linear.bias)),
        "LayerNorm": (lambda: layer_norm(row), lambda: functional.layer_norm(
            row, (4,), layer_norm.weight, layer_norm.bias)),
        "Dropout": (_bound(nn.Dropout(0.2).eval(), x), lambda: x),
        "Identity": (_bound(nn.Identity(), x), lambda: x),
        "Flatten": (_bound(nn.Flatten(), x), lambda: x.flatten(1)),
    }
    simple = {"ReLU": functional.relu, "ReLU6": functional.relu6, "SiLU": functional.silu,
              "GELU": functional.gelu, "Hardswish": functional.hardswish,
              "Hardsigmoid": functional.hardsigmoid, "Sigmoid": torch.sigmoid}
    for name, call in simple.items():
        pairs[name] = (_bound(getattr(nn, name)(), x), _bound(call, x))
    pools: dict[str, tuple[tuple[int, ...], Callable[..., Any]]] = {
        "MaxPool2d": ((3, 2, 1), functional.max_pool2d),
        "AvgPool2d": ((2, 2), functional.avg_pool2d),
        "AdaptiveAvgPool2d": ((1,), functional.adaptive_avg_pool2d)}
    for name, (args, call) in pools.items():
        pairs[name] = (_bound(getattr(nn, name)(*args), x), _bound(call, x, *args))
    # one rotation, the layers then their functional calls: both halves under the same load
    calls = {f"{half} {name}": pair[index] for index, half in enumerate(("layer", "bare"))
             for name, pair in pairs.items()}
    times = _interleaved_s(calls, loop_s, rounds)
    return {name: max(times[f"layer {name}"] - times[f"bare {name}"], 0.0) for name in pairs}


def _fresh_pages(torch: Any, loop_s: Callable[[Callable[[], Any], int], float],
                 settings: MicroSettings) -> tuple[BandwidthPoint, ...]:
    """Per buffer size, the median extra time of filling a freshly allocated buffer over
    filling one already in use, in ascending sizes, each after two fresh allocations (the
    allocator adapts its thresholds to what was freed, as it does over a network's forwards).
    """
    # NB: in a network the allocator's state is its own; below the C library's mapping
    # threshold (32 MiB with glibc) fresh outputs are reused heap memory, above it new pages
    # (no size sits on the threshold itself, where the outcome depends on the allocator's past)
    sizes = (1 << 20, 2 << 20) if settings.scale < 1 else tuple(m << 20 for m in (8, 16, 24, 33, 48, 64))
    points = []
    for size in sizes:
        kept = torch.empty(size // _F32)
        fresh, reused = [], []
        for sample in range(2 + settings.repeats):
            first = loop_s(_bound(_fill_new, torch, size // _F32), 1)
            again = loop_s(_bound(kept.fill_, 1.0), 1)
            if sample >= 2:
                fresh.append(first)
                reused.append(again)
        points.append(BandwidthPoint(size, max(
            statistics.median(fresh) - statistics.median(reused), 0.0)))
    return tuple(points)


def _bound(call: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """``call`` with ``args`` bound: a case of no arguments."""
    return lambda: call(*args)


def _fill_new(torch: Any, elements: int) -> Any:
    return torch.empty(elements).fill_(1.0)


def _smallest(torch: Any, device: Any) -> dict[str, Callable[[], Any]]:
    """The smallest instance of each class and kind: its time is the class's fixed cost."""
    functional = torch.nn.functional

    def t(*shape: int) -> Any:
        return torch.ones(*shape, device=device)

    x, x8, one = t(1, 2, 4, 4), t(1, 8, 4, 4), t(1)
    dense, point, depthwise = t(2, 2, 3, 3), t(2, 2, 1, 1), t(8, 1, 3, 3)
    row, q = t(1, 1), t(1, 1, 1, 1)
    return {
        "conv_dense": lambda: functional.conv2d(x, dense, None, 1, 1),
        "conv_pointwise": lambda: functional.conv2d(x, point),
        "conv_grouped": lambda: functional.conv2d(x8, depthwise, None, 1, 1, 1, 8),
        "gemm": lambda: functional.linear(row, row, one),
        "bmm": lambda: torch.bmm(q[0], q[0]),
        "attention": lambda: functional.scaled_dot_product_attention(q, q, q),
        "pool": lambda: functional.max_pool2d(x, 3, 2, 1),
        "norm": lambda: functional.batch_norm(q, one, one, one, one, False),
        "reduction": lambda: x.mean((-2, -1)),
        "copy": lambda: x[0].transpose(1, 2).contiguous(),
    }


def _pool_point(torch: Any, pool: Any, timer: Callable[[Callable[[], Any]], float],
                case: tuple[Any, ...]) -> KernelPoint:
    channels, size, window, stride, kind = case
    inputs = cold_operands(pool, (1, channels, size, size))
    pad = window // 2 if stride == 1 or window % 2 else 0
    out = (size + 2 * pad - window) // stride + 1
    outputs = channels * out * out
    pooling = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    # the formula table's pooling work: one operation per window element per output
    return KernelPoint(outputs * window * window, _F32 * (channels * size * size + outputs),
                       timer(lambda: pooling(*next(inputs), window, stride, pad)))


def _norm_cases(settings: MicroSettings) -> list[tuple[int, int, int]]:
    shapes = _NORM[:1] if settings.scale < 1 else _NORM
    return [(batch, *shape) for batch in _batches(settings) for shape in shapes]


def _norm_point(torch: Any, pool: Any, timer: Callable[[Callable[[], Any]], float],
                batch: int, channels: int, size: int) -> BandwidthPoint:
    # input, running mean, running variance (positive: the pool is uniform in [0, 1)), weight
    # and bias
    operands = cold_operands(pool, (batch, channels, size, size), *([(channels,)] * 4))
    norm = torch.nn.functional.batch_norm
    return BandwidthPoint(_F32 * (2 * batch * channels * size * size + 4 * channels),
                          timer(lambda: norm(*next(operands), False)))
