"""Measured latency: the whole run and every module, with warm-up and repeats.

:func:`measure_latency` runs the model for real (``cpu`` or ``cuda`` tensors; ``meta`` and fake
tensors are refused) and returns a :class:`Timing`:

- ``time_s``: the median wall time of one call (forward, or forward + backward with
  ``backward=True``) over ``repeats`` runs **without** any hook installed: the latency;
- per module: the median over the hooked runs of its wall time per run (all its calls summed),
  inclusive of its children (``time_s``) and of its own code only (``self_time_s``). Global
  forward pre/post hooks, installed only for those runs, take a timestamp on entry and exit:
  ``time.perf_counter`` on CPU, CUDA events on the current stream on GPU (read after one
  synchronisation at the end of the run, so kernels are timed where they run, not where they are
  launched);
- ``hooked_forward_s``: the whole forward measured in those same hooked runs, the figure module
  shares (% of total) refer to; ``leaf_time_s``: the median over runs of the sum of the leaf
  modules' times, and ``leaf_fraction`` the median of that sum over the whole forward of the
  same run. Leaves add up to the whole forward up to the glue code outside any leaf module
  (residual adds, reshapes written in ``forward``) and the hooks' own cost.

Clean and hooked runs alternate, after ``warmup`` runs, so drifts in clock speed hit both alike.
With ``backward=True`` the backward pass is timed as a whole (``backward_s``, hooked runs):
per-module backward times would need module backward hooks, which change the autograd graph
(they wrap outputs, and break models that modify outputs in place), so they are not measured.
Inference runs under ``torch.no_grad()``; a training step computes gradients with
``torch.autograd.grad`` (no ``.grad`` is written). Buffers changed by the runs (batch-norm
statistics in train mode), the RNG and grad mode are restored.

>>> import torch
>>> model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU())
>>> timing = measure_latency(model, torch.randn(8, 64), warmup=1, repeats=3)
>>> timing.time_s > 0, [m.name for m in timing.modules]
(True, ['', '0', '1'])
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from flopwise.capture.hooks import HookStack
from flopwise.errors import UsageError

if TYPE_CHECKING:
    import torch
    from typing_extensions import Self  # typing.Self is 3.11+; flopwise supports 3.10

    from flopwise.hardware.catalogue import Accelerator
    from flopwise.report import Report

__all__ = [
    "TIMING_CONVENTION",
    "LatencyMeter",
    "ModuleTiming",
    "Timing",
    "annotate_timing",
    "measure_interleaved",
    "measure_latency",
]

#: The convention of the FLOPs that achieved FLOP/s are computed from.
TIMING_CONVENTION = "standard"

#: Called after every run with (runs done, runs in total).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ModuleTiming:
    """One module's measured forward time per run (median over repeats), in seconds.

    ``flops``, ``flops_per_s`` and ``peak_percent`` are filled by :func:`annotate_timing`:
    the module's forward FLOPs (standard convention, children included), the achieved rate,
    and that rate as a percentage of the device's peak for the report's main dtype.
    """

    name: str
    calls: int
    time_s: float
    self_time_s: float
    leaf: bool
    flops: int | None = None
    flops_per_s: float | None = None
    peak_percent: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "calls": self.calls, "time_s": self.time_s,
                "self_time_s": self.self_time_s, "leaf": self.leaf, "flops": self.flops,
                "flops_per_s": self.flops_per_s, "peak_percent": self.peak_percent}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModuleTiming:
        return cls(data["name"], data["calls"], data["time_s"], data["self_time_s"],
                   bool(data["leaf"]), data.get("flops"), data.get("flops_per_s"),
                   data.get("peak_percent"))


@dataclass(frozen=True)
class Timing:
    """Measured latency of one model call (see the module docstring for each figure)."""

    KEY: ClassVar[str] = "timing"

    device: str
    method: str
    backward: bool
    warmup: int
    repeats: int
    time_s: float
    times_s: tuple[float, ...]
    hooked_forward_s: float
    leaf_time_s: float
    backward_s: float | None
    forward_times_s: tuple[float, ...] = ()
    leaf_times_s: tuple[float, ...] = ()
    modules: tuple[ModuleTiming, ...] = ()
    samples: int | None = None
    flops: int | None = None
    flops_per_s: float | None = None
    peak_percent: float | None = None
    hardware: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def samples_per_s(self) -> float | None:
        return self.samples / self.time_s if self.samples and self.time_s > 0 else None

    @property
    def leaf_fraction(self) -> float:
        """Median over the hooked runs of (sum of leaf-module times) / (whole forward), each
        pair from the same run: how much of the forward the leaf modules account for."""
        ratios = [leaf / whole for leaf, whole in zip(self.leaf_times_s, self.forward_times_s)
                  if whole > 0]
        return statistics.median(ratios) if ratios else 0.0

    @property
    def hook_overhead_s(self) -> float:
        """Median hooked forward minus median clean latency (inference runs only; noisy)."""
        return self.hooked_forward_s - self.time_s

    def module(self, name: str) -> ModuleTiming:
        """The timing of one module by name (root: ``""``)."""
        for entry in self.modules:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def share(self, seconds: float) -> float:
        """``seconds`` as a percentage of the hooked forward (module shares add up to it)."""
        return 100.0 * seconds / self.hooked_forward_s if self.hooked_forward_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device, "method": self.method, "backward": self.backward,
            "warmup": self.warmup, "repeats": self.repeats, "time_s": self.time_s,
            "times_s": list(self.times_s), "hooked_forward_s": self.hooked_forward_s,
            "leaf_time_s": self.leaf_time_s, "leaf_fraction": self.leaf_fraction,
            "forward_times_s": list(self.forward_times_s),
            "leaf_times_s": list(self.leaf_times_s), "backward_s": self.backward_s,
            "samples": self.samples, "samples_per_s": self.samples_per_s,
            "convention": TIMING_CONVENTION, "flops": self.flops,
            "flops_per_s": self.flops_per_s, "peak_percent": self.peak_percent,
            "hardware": self.hardware, "notes": list(self.notes),
            "modules": [m.to_dict() for m in self.modules],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Timing:
        """The inverse of :meth:`to_dict` (derived figures are recomputed, not read)."""
        return cls(
            device=data["device"], method=data["method"], backward=bool(data["backward"]),
            warmup=data["warmup"], repeats=data["repeats"], time_s=data["time_s"],
            times_s=tuple(data.get("times_s", ())), hooked_forward_s=data["hooked_forward_s"],
            leaf_time_s=data["leaf_time_s"], backward_s=data.get("backward_s"),
            forward_times_s=tuple(data.get("forward_times_s", ())),
            leaf_times_s=tuple(data.get("leaf_times_s", ())),
            modules=tuple(ModuleTiming.from_dict(m) for m in data.get("modules", ())),
            samples=data.get("samples"), flops=data.get("flops"),
            flops_per_s=data.get("flops_per_s"), peak_percent=data.get("peak_percent"),
            hardware=data.get("hardware"), notes=tuple(data.get("notes", ())),
        )


# -- clocks ------------------------------------------------------------------------------------
class _CpuClock:
    method = "perf_counter"

    def mark(self) -> float:
        return time.perf_counter()

    def finish(self) -> None:
        """Nothing to wait for on CPU."""

    @staticmethod
    def elapsed_s(start: Any, end: Any) -> float:
        return float(end - start)


class _CudaClock:
    method = "cuda events"

    def __init__(self, device: torch.device) -> None:
        import torch

        self._torch = torch
        self._device = device

    def mark(self) -> Any:
        event = self._torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        event.record()
        return event

    def finish(self) -> None:
        self._torch.cuda.synchronize(self._device)

    @staticmethod
    def elapsed_s(start: Any, end: Any) -> float:
        return float(start.elapsed_time(end)) / 1e3


# -- the hooked run ------------------------------------------------------------------------------
class _ModuleClock(HookStack):
    """Marks each module call's entry and exit with the clock (entered per hooked run)."""

    def __init__(self, names: Mapping[int, str], clock: Any) -> None:
        super().__init__(names)
        self._clock = clock
        self.calls: list[list[Any]] = []           # [name, start, end, parent index]
        self._open: list[int] = []

    def entered(self, name: str, module: Any, args: Any) -> None:
        parent = self._open[-1] if self._open else -1
        self.calls.append([name, self._clock.mark(), None, parent])
        self._open.append(len(self.calls) - 1)

    def left(self, name: str, module: Any, output: Any) -> None:
        if self._open:
            self.calls[self._open.pop()][2] = self._clock.mark()

    def per_module(self) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
        """Inclusive and self seconds and calls per module for this run (after ``finish``)."""
        inclusive = [self._clock.elapsed_s(c[1], c[2]) if c[2] is not None else 0.0
                     for c in self.calls]
        children = [0.0] * len(self.calls)
        for index, call in enumerate(self.calls):
            if call[3] >= 0:
                children[call[3]] += inclusive[index]
        total: dict[str, float] = {}
        own: dict[str, float] = {}
        calls: dict[str, int] = {}
        for index, call in enumerate(self.calls):
            name = call[0]
            total[name] = total.get(name, 0.0) + inclusive[index]
            own[name] = own.get(name, 0.0) + inclusive[index] - children[index]
            calls[name] = calls.get(name, 0) + 1
        return total, own, calls


# -- measuring ---------------------------------------------------------------------------------
def _tensors(model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
             ) -> list[torch.Tensor]:
    import torch
    from torch.utils._pytree import tree_leaves

    found = [t for t in tree_leaves((list(args), dict(kwargs))) if isinstance(t, torch.Tensor)]
    if isinstance(model, torch.nn.Module):
        found += list(model.parameters()) + list(model.buffers())
    return found


def _device_of(tensors: list[torch.Tensor]) -> torch.device:
    import torch
    from torch._subclasses.fake_tensor import FakeTensor

    for tensor in tensors:
        if tensor.is_meta or isinstance(tensor, FakeTensor):
            raise UsageError("timing runs the model for real, but it or its inputs are on meta "
                             "(or fake); build them on cpu or cuda (--device cpu)")
    devices = {t.device for t in tensors}
    cuda = [d for d in devices if d.type == "cuda"]
    return cuda[0] if cuda else torch.device("cpu")


class LatencyMeter:
    """One model's timing, run by run: warm-up runs, then clean + hooked pairs.

    A context manager: on entry it checks the tensors, sets grad mode (off for inference) and
    snapshots what the runs may change; on exit it restores the buffers, the RNG and grad mode.
    :func:`measure_latency` drives one meter; :func:`measure_interleaved` drives several in
    rounds, so that a busy machine slows every model alike.
    """

    def __init__(self, model: Any, inputs: Any = (), kwargs: Mapping[str, Any] | None = None, *,
                 backward: bool = False, loss: Callable[[Any], Any] | None = None) -> None:
        import torch

        from flopwise.capture.run import as_tuple

        self.model = model
        self.args = as_tuple(inputs)
        self.kwargs = dict(kwargs or {})
        self.backward = backward
        self.loss = loss
        self._tensors = _tensors(model, self.args, self.kwargs)
        self.device = _device_of(self._tensors)
        self.clock: Any = _CudaClock(self.device) if self.device.type == "cuda" else _CpuClock()
        modules = list(model.named_modules()) if isinstance(model, torch.nn.Module) else []
        self._names = {id(m): n for n, m in modules}
        self._leaves = {n for n, m in modules if not any(True for _ in m.children())}
        self._leaf_params: list[torch.Tensor] = []
        self._stack = contextlib.ExitStack()
        self.clean: list[float] = []
        self.forward: list[float] = []
        self.backward_times: list[float] = []
        self.leaf_sums: list[float] = []
        self.inclusive: dict[str, list[float]] = {name: [] for name in self._names.values()}
        self.own: dict[str, list[float]] = {name: [] for name in self._names.values()}
        self.calls: dict[str, int] = {}
        self.warmed = 0

    def __enter__(self) -> Self:
        import torch

        from flopwise.capture.run import preserved_state

        buffers = list(self.model.buffers()) if isinstance(self.model, torch.nn.Module) else []
        self._stack.enter_context(preserved_state(buffers))
        self._stack.enter_context(torch.set_grad_enabled(self.backward))
        if self.backward:
            self._leaf_params = [t for t in self._tensors if t.requires_grad and t.grad_fn is None]
            if not self._leaf_params:
                self._stack.close()
                raise UsageError("timing a training step needs parameters or inputs that "
                                 "require grad")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()

    def _run(self) -> tuple[Any, Any, Any]:
        from flopwise.capture.run import run_timed_step

        return run_timed_step(self.model, self.args, self.kwargs, self.backward, self.loss,
                              self._leaf_params, self.clock)

    def warm(self) -> None:
        """One untimed run."""
        self._run()
        self.clock.finish()
        self.warmed += 1

    def clean_run(self) -> None:
        """One run without hooks: a latency sample."""
        start, _middle, end = self._run()
        self.clock.finish()
        self.clean.append(self.clock.elapsed_s(start, end))

    def hooked_run(self) -> None:
        """One run with the module hooks: per-module samples and the forward around them."""
        with _ModuleClock(self._names, self.clock) as hooked:
            start, middle, end = self._run()
        self.clock.finish()
        self.forward.append(self.clock.elapsed_s(start, middle))
        if self.backward:
            self.backward_times.append(self.clock.elapsed_s(middle, end))
        run_total, run_own, self.calls = hooked.per_module()
        for name in self._names.values():
            self.inclusive[name].append(run_total.get(name, 0.0))
            self.own[name].append(run_own.get(name, 0.0))
        self.leaf_sums.append(sum(run_total.get(name, 0.0) for name in self._leaves))

    def result(self) -> Timing:
        """The medians of the runs so far (at least one clean and one hooked run)."""
        if not self.clean or not self.forward:
            raise UsageError("no timed run yet: call clean_run() and hooked_run() first")
        modules = tuple(
            ModuleTiming(name, self.calls.get(name, 0), statistics.median(self.inclusive[name]),
                         statistics.median(self.own[name]), name in self._leaves)
            for name in self._names.values()
        )
        notes: tuple[str, ...] = ()
        if self.backward:
            notes = ("module times are forward times; the backward pass is timed as a whole",)
        return Timing(
            device=str(self.device),
            method=self.clock.method,
            backward=self.backward,
            warmup=self.warmed,
            repeats=len(self.clean),
            time_s=statistics.median(self.clean),
            times_s=tuple(self.clean),
            hooked_forward_s=statistics.median(self.forward),
            leaf_time_s=statistics.median(self.leaf_sums),
            backward_s=statistics.median(self.backward_times) if self.backward_times else None,
            forward_times_s=tuple(self.forward),
            leaf_times_s=tuple(self.leaf_sums),
            modules=modules,
            samples=_batch_of(self.args, self.kwargs),
            notes=notes,
        )


def _check_counts(warmup: int, repeats: int) -> None:
    if repeats < 1 or warmup < 0:
        raise UsageError(f"timing needs repeats >= 1 and warmup >= 0, got {repeats} and {warmup}")


def measure_latency(model: Any, inputs: Any = (), kwargs: Mapping[str, Any] | None = None, *,
                    backward: bool = False, loss: Callable[[Any], Any] | None = None,
                    warmup: int = 3, repeats: int = 10,
                    progress: Progress | None = None) -> Timing:
    """Measure the latency of ``model(*inputs, **kwargs)`` and of each of its modules.

    Args:
        model: an ``nn.Module`` (or callable) with real tensors on cpu or cuda.
        inputs: a tensor or a tuple of positional inputs; ``kwargs`` keyword inputs.
        backward: time a training step: forward, then backward of ``output.sum()`` (or
            ``loss(output)``) with respect to every parameter and input that requires grad.
        warmup: untimed runs first (caches, allocator, lazy initialisation).
        repeats: timed runs of each kind (clean and hooked); medians are reported.
        progress: called with (runs done, runs in total) after every run.

    Raises :class:`~flopwise.UsageError` for meta or fake tensors, or repeats < 1; the model's
    own exceptions propagate unchanged.
    """
    return measure_interleaved([(model, inputs, kwargs)], backward=backward, loss=loss,
                               warmup=warmup, repeats=repeats, progress=progress)[0]


def measure_interleaved(items: Sequence[tuple[Any, Any, Mapping[str, Any] | None]], *,
                        backward: bool = False, loss: Callable[[Any], Any] | None = None,
                        warmup: int = 3, repeats: int = 10,
                        progress: Progress | None = None) -> list[Timing]:
    """Time several ``(model, inputs, kwargs)`` in rounds: each round runs every model once
    clean and once hooked, so a machine that gets busier slows all of them alike (what a
    comparison needs). Warm-up runs come first, also in rounds. One :class:`Timing` per item.

    >>> import torch
    >>> small, large = torch.nn.Linear(16, 16), torch.nn.Linear(512, 512)
    >>> a, b = measure_interleaved([(small, torch.randn(8, 16), None),
    ...                             (large, torch.randn(8, 512), None)], warmup=1, repeats=3)
    >>> a.repeats == b.repeats == 3
    True
    """
    _check_counts(warmup, repeats)
    total = len(items) * (warmup + 2 * repeats)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    meters = [LatencyMeter(model, inputs, kwargs, backward=backward, loss=loss)
              for model, inputs, kwargs in items]
    with contextlib.ExitStack() as stack:
        for meter in meters:
            stack.enter_context(meter)
        for _ in range(warmup):
            for meter in meters:
                meter.warm()
                tick()
        for _ in range(repeats):
            for meter in meters:
                meter.clean_run()
                tick()
                meter.hooked_run()
                tick()
        return [meter.result() for meter in meters]


def _batch_of(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int | None:
    import torch
    from torch.utils._pytree import tree_leaves

    for leaf in tree_leaves((list(args), dict(kwargs))):
        if isinstance(leaf, torch.Tensor) and leaf.ndim >= 1:
            return int(leaf.shape[0])
    return None


def annotate_timing(timing: Timing, report: Report,
                    accelerator: Accelerator | None = None) -> Timing:
    """Add achieved FLOP/s (and % of the device's peak) from ``report``'s FLOPs.

    Module rates use each module's forward FLOPs (standard convention, children included)
    over its measured forward time; the whole run's rate uses all of the report's FLOPs (every
    phase that ran) over ``time_s``. The peak is the device's for the report's main dtype.

    >>> import torch, flopwise
    >>> model = torch.nn.Linear(256, 256)
    >>> x = torch.randn(32, 256)
    >>> timing = annotate_timing(measure_latency(model, x, warmup=1, repeats=3),
    ...                          flopwise.profile(model, x))
    >>> timing.flops == 2 * 32 * 256 * 256 and timing.flops_per_s > 0
    True
    """
    standard = report.using(TIMING_CONVENTION)
    peak = _peak_of(report, accelerator)
    rows = {row.name: row for row in standard.modules()}
    modules = []
    for entry in timing.modules:
        row = rows.get(entry.name)
        flops = row.phase_flops.get("forward", 0) if row is not None else None
        rate = flops / entry.time_s if flops is not None and entry.time_s > 0 else None
        modules.append(replace(entry, flops=flops, flops_per_s=rate,
                               peak_percent=100.0 * rate / peak if rate and peak else None))
    total = standard.total.flops
    rate = total / timing.time_s if timing.time_s > 0 else None
    return replace(timing, modules=tuple(modules), flops=total, flops_per_s=rate,
                   peak_percent=100.0 * rate / peak if rate and peak else None,
                   hardware=accelerator.id if accelerator is not None else None)


def _peak_of(report: Report, accelerator: Accelerator | None) -> float | None:
    if accelerator is None:
        return None
    from collections import Counter

    flops: Counter[str] = Counter()
    standard = report.using(TIMING_CONVENTION)
    for event in report.events:
        flops[event.dtype] += standard.flops_of(event.cost)
    for dtype, _count in flops.most_common():
        peak = accelerator.find_peak(dtype)
        if peak is not None:
            return peak
    return None
