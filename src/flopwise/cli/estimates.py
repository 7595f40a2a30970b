"""What ``--hardware`` and ``--time`` add to a report, shared by ``profile`` and ``compare``.

- ``--hardware NAME|FILE.json``: the roofline estimate (``report.roofline``) and the
  largest batch that fits the device's memory (``report.memory.fit``);
- ``--time``: the measured latency, per module (``report.timing``), with a progress bar on
  stderr;
- ``--calibration FILE.json`` (or a ``--hardware FILE.json`` that carries calibration tables):
  the calibrated latency prediction (``report.with_latency``, section ``latency``).

Each is one library call (``report.with_roofline``, ``flopwise.memory.with_largest_batch``,
``report.with_timing`` or, for several models timed in rounds, ``report.with_section``); this
module adds the progress display and the best-effort note.

torch is imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flopwise.cli.app import stderr
from flopwise.errors import UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from flopwise.hardware.calibration import CalibrationTable
    from flopwise.hardware.catalogue import Accelerator
    from flopwise.report import Report

__all__ = [
    "HARDWARE_HELP",
    "TIME_HELP",
    "Extras",
    "add_batch_fit",
    "add_estimate",
    "add_timings",
    "check_timing_device",
    "load_calibration_for",
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


def load_calibration_for(hardware: str | None, calibration: Path | None
                         ) -> CalibrationTable | None:
    """The tables of ``--calibration FILE``, else of a ``--hardware`` profile file that has
    them (a catalogue id or an older profile has none: the roofline alone is shown)."""
    from flopwise.hardware.calibration import load_calibration

    if calibration is not None:
        return load_calibration(calibration)
    if hardware is None or not hardware.lower().endswith(".json"):
        return None
    try:
        return load_calibration(hardware)
    except UsageError:
        return None  # NB: a profile without tables still gives the roofline


def add_estimate(report: Report, accelerator: Accelerator, compute_efficiency: float,
                 memory_efficiency: float) -> Report:
    """``report`` with its roofline estimate on ``accelerator``."""
    return report.with_roofline(accelerator, compute_efficiency=compute_efficiency,
                                memory_efficiency=memory_efficiency)


def add_batch_fit(report: Report, model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any],
                  accelerator: Accelerator) -> Report:
    """``report`` with the largest batch that fits ``accelerator`` in its memory section.

    When that is impossible (no batch dimension, a model that rejects other batch sizes) a
    one-line note on stderr says why, and ``report`` comes back as it was.
    """
    from flopwise.memory.fit import with_largest_batch

    if report.memory is None:
        return report
    try:
        return with_largest_batch(report, model, args, kwargs, hardware=accelerator)
    except Exception as error:  # noqa: BLE001  NB: best effort; the model may reject other batches
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        stderr.print(f"note: largest batch on {accelerator.id} not computed: {first}",
                     markup=False, highlight=False)
        return report


def add_timings(runs: list[tuple[Report, Any, tuple[Any, ...], dict[str, Any]]],
                backward: bool, warmup: int, repeats: int, accelerator: Accelerator | None,
                label: str) -> list[Report]:
    """Time several models in interleaved rounds (progress bar on stderr); each report with
    its timing, in order."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from flopwise.timing import annotate_timing, measure_interleaved

    with Progress(TextColumn(f"timing {label}"), BarColumn(), MofNCompleteColumn(),
                  console=stderr, transient=True, disable=not stderr.is_terminal) as bar:
        task = bar.add_task("timing", total=len(runs) * (warmup + 2 * repeats))
        timings = measure_interleaved(
            [(model, args, kwargs) for _, model, args, kwargs in runs], backward=backward,
            warmup=warmup, repeats=repeats,
            progress=lambda done, total: bar.update(task, completed=done))
    return [report.with_section(annotate_timing(timing, report, accelerator))
            for (report, *_), timing in zip(runs, timings)]


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
    calibration: CalibrationTable | None = None
    keep: list[tuple[Report, Any, tuple[Any, ...], dict[str, Any]]] | None = None

    def apply(self, report: Report, model: Any, args: tuple[Any, ...],
              kwargs: Mapping[str, Any], backward: bool, label: str) -> Report:
        """``report`` with the roofline estimate and the measured latency that were asked for;
        with ``keep``, the model and its inputs are handed over instead of timed (for timing
        several models together)."""
        if self.accelerator is not None:
            report = add_estimate(report, self.accelerator, self.compute_efficiency,
                                  self.memory_efficiency)
        if self.calibration is not None:
            report = report.with_latency(self.calibration)
        if self.keep is not None:
            self.keep.append((report, model, args, dict(kwargs)))
        elif self.time:
            (report,) = add_timings([(report, model, args, dict(kwargs))], backward,
                                    self.warmup, self.repeats, self.accelerator, label)
        return report
