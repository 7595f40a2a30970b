"""What ``--hardware`` and ``--time`` add to a report, shared by ``profile`` and ``compare``.

- ``--hardware NAME|FILE.json``: the roofline estimate (``report.extras["roofline"]``) and the
  largest batch that fits the device's memory (``report.memory.fit``);
- ``--time``: the measured latency, per module (``report.extras["timing"]``), with a progress
  bar on stderr.

torch is imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flopwise.cli.app import stderr
from flopwise.errors import UsageError

if TYPE_CHECKING:
    from flopwise.hardware.catalogue import Accelerator
    from flopwise.report import Report

__all__ = [
    "HARDWARE_HELP",
    "TIME_HELP",
    "Extras",
    "add_batch_fit",
    "add_estimate",
    "add_timing",
    "check_timing_device",
    "load_hardware",
]

HARDWARE_HELP = (
    "Estimate time on this accelerator with the roofline model: a catalogue id (flopwise "
    "hardware lists them, e.g. h100-sxm) or a profile .json from flopwise bench-device. Adds "
    "est. time, % est., bound and FLOP/B columns, the estimated latency and throughput, and the "
    "largest batch that fits its memory."
)
TIME_HELP = (
    "Also run the model for real (needs --device cpu or cuda) and measure its latency and each "
    "module's (median over --repeats after --warmup runs): adds time, % time and FLOP/s columns "
    "(and % peak with --hardware)."
)


def check_timing_device(device: str) -> None:
    """``--time`` needs values to compute: refuse ``meta`` with the flag that fixes it."""
    if device == "meta":
        raise UsageError("--time runs the model for real, and --device meta builds it without "
                         "weights; add --device cpu (or cuda)")


def load_hardware(name: str | None) -> Accelerator | None:
    """The accelerator named by ``--hardware`` (a catalogue id or a profile file), if any."""
    if name is None:
        return None
    from flopwise.hardware import get_accelerator

    return get_accelerator(name)


def add_estimate(report: Report, accelerator: Accelerator, compute_efficiency: float,
                 memory_efficiency: float) -> None:
    """Put the roofline estimate of ``report`` on ``accelerator`` in its extras."""
    from flopwise.hardware.estimate import estimate_roofline

    report.extras["roofline"] = estimate_roofline(
        report, accelerator, compute_efficiency=compute_efficiency,
        memory_efficiency=memory_efficiency)


def _resized(args: tuple[Any, ...], kwargs: Mapping[str, Any], batch: int,
             device: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The inputs with every tensor of the original batch size resized to ``batch`` (zeros; on
    ``meta`` for a meta model, else real, to be run under fake tensors)."""
    import torch
    from torch.utils._pytree import tree_leaves, tree_map

    tensors = [t for t in tree_leaves((list(args), dict(kwargs))) if isinstance(t, torch.Tensor)]
    if not tensors or tensors[0].ndim == 0:
        raise UsageError("the inputs have no batch dimension")
    original = tensors[0].shape[0]

    def resize(value: Any) -> Any:
        if not isinstance(value, torch.Tensor) or value.ndim == 0 or value.shape[0] != original:
            return value
        shape = (batch, *value.shape[1:])
        if device == "meta":
            return torch.empty(shape, dtype=value.dtype, device="meta")
        return torch.zeros(shape, dtype=value.dtype, device=value.device)

    new_args, new_kwargs = tree_map(resize, (list(args), dict(kwargs)))
    return tuple(new_args), new_kwargs


def add_batch_fit(report: Report, model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any],
                  device: str, backward: bool, accelerator: Accelerator) -> None:
    """Attach the largest batch that fits ``accelerator`` to ``report.memory``.

    The model is profiled twice more, on ``meta`` or under fake tensors (nothing computed).
    When that is impossible (no batch dimension, a model that rejects other batch sizes) a
    one-line note on stderr says why; the report stays as it was.
    """
    from flopwise.memory import largest_batch

    memory = report.memory
    if memory is None:
        return
    try:
        fit = largest_batch(model, lambda b: _resized(args, kwargs, b, device), accelerator,
                            backward=backward, fake=device != "meta")
    except Exception as error:  # noqa: BLE001  NB: best effort; the model may reject other batches
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        stderr.print(f"note: largest batch on {accelerator.id} not computed: {first}",
                     markup=False, highlight=False)
        return
    report.extras["memory"] = memory.with_fit(fit)


def add_timing(report: Report, model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any],
               backward: bool, warmup: int, repeats: int, accelerator: Accelerator | None,
               label: str) -> None:
    """Measure the model's latency (progress bar on stderr) and attach it to ``report``."""
    add_timings([(report, model, args, dict(kwargs))], backward, warmup, repeats, accelerator,
                label)


def add_timings(runs: list[tuple[Report, Any, tuple[Any, ...], dict[str, Any]]],
                backward: bool, warmup: int, repeats: int, accelerator: Accelerator | None,
                label: str) -> None:
    """Time several models in interleaved rounds (progress bar on stderr); attach each
    timing to its report."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from flopwise.timing import annotate_timing, measure_interleaved

    with Progress(TextColumn(f"timing {label}"), BarColumn(), MofNCompleteColumn(),
                  console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
        task = bar.add_task("timing", total=len(runs) * (warmup + 2 * repeats))
        timings = measure_interleaved(
            [(model, args, kwargs) for _, model, args, kwargs in runs], backward=backward,
            warmup=warmup, repeats=repeats,
            progress=lambda done, total: bar.update(task, completed=done))
    for (report, *_), timing in zip(runs, timings):
        report.extras["timing"] = annotate_timing(timing, report, accelerator)


@dataclass(frozen=True)
class Extras:
    """What to add to a count: a roofline estimate (and the batch fit), measured latency."""

    accelerator: Accelerator | None = None
    compute_efficiency: float = 1.0
    memory_efficiency: float = 1.0
    time: bool = False
    warmup: int = 3
    repeats: int = 10
    fit: bool = True
    keep: list[tuple[Report, Any, tuple[Any, ...], dict[str, Any]]] | None = None

    def apply(self, report: Report, model: Any, args: tuple[Any, ...],
              kwargs: Mapping[str, Any], backward: bool, label: str) -> None:
        """Add the roofline estimate and the measured latency that were asked for; with
        ``keep``, hand the model and its inputs over (for timing several models together)."""
        if self.accelerator is not None:
            add_estimate(report, self.accelerator, self.compute_efficiency,
                         self.memory_efficiency)
        if self.keep is not None:
            self.keep.append((report, model, args, dict(kwargs)))
        elif self.time:
            add_timing(report, model, args, kwargs, backward, self.warmup, self.repeats,
                       self.accelerator, label)
