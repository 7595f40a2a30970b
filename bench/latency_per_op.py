"""Per-op diagnosis of the calibrated time model (issue 15): measured time of every aten op of a
real forward against the model's prediction for the same op, summed by class.

    python bench/latency_per_op.py --profile FILE [--threads N] [--models resnet18 ...]
                                   [--batches 1 8] [--cpu-time] [--top 5] [--by-layer]

Per model (torchvision, weights=None, eval, 224², fp32) and batch: the report is counted on
``meta`` under ``torch.no_grad()``; the real forward runs under a ``TorchDispatchMode`` that
times each aten op (the clock read right around the kernel call; the minimum over three
forwards after a warm-up). Ops are matched to the report's events by name in order. Printed per
op class: ops, measured, predicted (fixed costs included), measured ÷ predicted, and with
``--top N`` the N slowest ops of each class. Module calls and Python between ops are outside the
per-op figures (the forward's time without the mode is printed beside their sum).

The mode itself costs each op some microseconds and makes factory ops (``empty``) look far
slower than they are: read the ``overhead`` class with that in mind.

``--by-layer`` also times every leaf module's call with forward hooks (no dispatch mode; the mean
of three forwards) and prints, per layer class, the calls, the measured time and the model's
prediction for those modules (their ops and their calls): where the op-level figures cannot see
a layer's Python. The hooks' own clock reads are inside the measured calls.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections import defaultdict
from typing import Any

import torch
import torchvision
from torch.utils._python_dispatch import TorchDispatchMode

import flopwise
from flopwise.hardware.calibrated import estimate_latency, op_latencies
from flopwise.hardware.calibration import load_calibration


class _OpTimer(TorchDispatchMode):
    """Records (op name, seconds) of every aten op."""

    def __init__(self, clock: Any) -> None:
        super().__init__()
        self.clock, self.ops = clock, []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        begin = self.clock()
        out = func(*args, **(kwargs or {}))
        self.ops.append((str(func), self.clock() - begin))
        return out


def _measured(model: torch.nn.Module, x: torch.Tensor, clock: Any) -> tuple[list, float]:
    """Per-op times (minimum over three forwards) and the forward's time without the mode."""
    runs = []
    with torch.no_grad():
        model(x)
        for _ in range(3):
            with _OpTimer(clock) as timer:
                model(x)
            runs.append(timer.ops)
        begin = clock()
        model(x)
        whole = clock() - begin
    return [(name, min(run[i][1] for run in runs)) for i, (name, _) in enumerate(runs[0])], whole


def _by_layer(model: torch.nn.Module, x: torch.Tensor, clock: Any, report: Any,
              table: Any) -> None:
    """Measured and predicted time of the leaf modules, summed per layer class."""
    names = {module: name for name, module in model.named_modules()}
    leaves = [module for module in model.modules() if not list(module.children())]
    starts: dict[torch.nn.Module, float] = {}
    took: defaultdict[str, float] = defaultdict(float)
    calls: defaultdict[str, int] = defaultdict(int)

    def pre(module: torch.nn.Module, args: Any) -> None:
        starts[module] = clock()

    def post(module: torch.nn.Module, args: Any, out: Any) -> None:
        took[names[module]] += clock() - starts[module]
        calls[names[module]] += 1

    handles = [hook for module in leaves for hook in (
        module.register_forward_pre_hook(pre), module.register_forward_hook(post))]
    try:
        with torch.no_grad():
            model(x)
            took.clear()
            calls.clear()
            for _ in range(3):
                model(x)
    finally:
        for hook in handles:
            hook.remove()
    estimate = estimate_latency(report, table)
    by_type: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for module in leaves:
        name = names[module]
        if calls[name]:
            entry = by_type[type(module).__name__]
            entry[0] += calls[name] // 3
            entry[1] += took[name] / 3
            entry[2] += estimate.module(name).estimated_latency_s
    print("  by layer class (forward hooks):")
    for kind, (count, measured, predicted) in sorted(by_type.items(), key=lambda kv: -kv[1][1]):
        print(f"  {kind:18s} {count:4d} calls  measured {1e3 * measured:9.2f} ms  predicted "
              f"{1e3 * predicted:9.2f} ms  ratio {measured / predicted if predicted else 0:5.2f}")


def _diagnose(name: str, batch: int, table: Any, clock: Any, top: int,
              by_layer: bool = False) -> None:
    extra = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    model = getattr(torchvision.models, name)(weights=None, **extra).eval()
    with torch.no_grad():
        report = flopwise.profile(copy.deepcopy(model).to("meta"),
                                  torch.empty(batch, 3, 224, 224, device="meta"))
    predicted = op_latencies(report, table)
    measured, whole = _measured(model, torch.randn(batch, 3, 224, 224), clock)
    totals: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    slowest: defaultdict[str, list[tuple[float, float, tuple[int, ...]]]] = defaultdict(list)
    position = 0
    for event, (kind, seconds) in zip(report.events, predicted):
        while position < len(measured) and measured[position][0] != event.op:
            position += 1
        took = measured[position][1] if position < len(measured) else 0.0
        position += 1
        totals[kind][0] += 1
        totals[kind][1] += took
        totals[kind][2] += seconds
        slowest[kind].append((took, seconds, event.in_shape))
    print(f"== {name} b{batch}: {len(measured)} ops measured, {len(report.events)} recorded; "
          f"ops {1e3 * sum(t for _, t in measured):.2f} ms (forward without the timer "
          f"{1e3 * whole:.2f} ms), predicted {1e3 * sum(s for _, s in predicted):.2f} ms")
    for kind, (count, took, seconds) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
        ratio = took / seconds if seconds else float("nan")
        print(f"  {kind:15s} {count:4d} ops  measured {1e3 * took:9.2f} ms  predicted "
              f"{1e3 * seconds:9.2f} ms  ratio {ratio:5.2f}")
        for took_s, seconds_s, shape in sorted(slowest[kind], reverse=True)[:top]:
            print(f"      {str(shape):22s} measured {1e6 * took_s:9.1f} µs  predicted "
                  f"{1e6 * seconds_s:9.1f} µs")
    if by_layer:
        _by_layer(model, torch.randn(batch, 3, 224, 224), clock, report, table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", required=True, help="a bench-device profile with tables")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--models", nargs="+", default=["resnet18", "mobilenet_v3_small"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--cpu-time", action="store_true", help="time with process CPU time")
    parser.add_argument("--top", type=int, default=0, help="list the N slowest ops per class")
    parser.add_argument("--by-layer", action="store_true",
                        help="also time leaf modules with hooks, per layer class")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    table = load_calibration(args.profile)
    clock = time.process_time if args.cpu_time else time.perf_counter
    for name in args.models:
        for batch in args.batches:
            _diagnose(name, batch, table, clock, args.top, args.by_layer)


if __name__ == "__main__":
    main()
