"""Measured utilisation of a real training run: samples/s, tokens/s, achieved FLOP/s, MFU, HFU.

:class:`Throughput` wraps the steps of a training loop. The FLOPs of a step are counted by
:func:`flopwise.profile` (``backward=True`` and the run's optimizer) on fake tensors, once per
distinct batch signature (shapes, dtypes, devices), and cached; the step itself is timed with
``time.perf_counter`` after a device synchronisation on CUDA. Counting happens before the clock
starts, so it never inflates a step's time.

- **MFU** (model FLOPs utilisation): the step's FLOPs under the report's convention (``matmul`` by
  default, the literature's) with activation recomputation left out, ÷ step time ÷ peak.
- **HFU** (hardware FLOPs utilisation): the same with recomputation included — the FLOPs the
  device executed.

The peak is the catalogue's (or a ``flopwise bench-device`` profile's) dense figure for the dtype
that carries most of the counted FLOPs (autocast included), or ``peak_flops_per_s``.

>>> import torch, flopwise
>>> model = torch.nn.Linear(8, 4)
>>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
>>> monitor = flopwise.Throughput(model, optimizer=optimizer, peak_flops_per_s=1e12,
...                               warmup_steps=0, loss=lambda out, batch: out.square().mean())
>>> for _ in range(3):
...     batch = torch.randn(16, 8)
...     with monitor.step(batch):
...         model(batch).square().mean().backward(); optimizer.step(); optimizer.zero_grad()
>>> monitor.last.model_flops   # forward and weight gradient: 2 matmuls of 16·8·4 MACs, 2 FLOPs each
2048
>>> summary = monitor.summary()
>>> summary.steps, summary.samples, summary.convention
(3, 48, 'matmul')
>>> summary.mfu == summary.model_flops / summary.time_s / summary.peak_flops_per_s
True
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch.utils._pytree import tree_flatten

from flopwise.capture.events import OpEvent, Phase, Status
from flopwise.conventions import Convention, get_convention
from flopwise.errors import UsageError
from flopwise.hardware.catalogue import Accelerator, get_accelerator, load_catalogue

__all__ = ["Throughput", "StepCount", "StepRecord", "ThroughputSummary", "detect_accelerator"]

#: MFU's convention unless told otherwise: 2 FLOPs per MAC of contractions (PaLM, nanoGPT).
MFU_CONVENTION = "matmul"


@dataclass(frozen=True)
class StepCount:
    """The counted FLOPs of one training step for one batch signature.

    ``hardware_flops`` is everything that ran; ``model_flops`` leaves out the forward ops that
    activation checkpointing re-ran during backward. ``dtype`` carries most of the FLOPs.
    """

    model_flops: int
    hardware_flops: int
    convention: str
    dtype: str


@dataclass(frozen=True)
class StepRecord:
    """One timed step: when it started and ended (``perf_counter`` seconds), what it carried."""

    index: int
    start_s: float
    end_s: float
    samples: int
    tokens: int | None
    model_flops: int
    hardware_flops: int
    peak_flops_per_s: float
    warmup: bool
    counted: bool          # this step's batch signature was new (counted before the clock)

    @property
    def time_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def mfu(self) -> float:
        return self.model_flops / self.time_s / self.peak_flops_per_s


@dataclass(frozen=True)
class ThroughputSummary:
    """Rates over a window of timed steps (warm-up excluded), on one rank or all of them.

    ``time_s`` is the summed step time (the slowest rank's, globally); ``peak_flops_per_s`` the
    peak of one rank (summed over ranks globally).

    >>> s = ThroughputSummary(steps=2, samples=8, tokens=64, model_flops=4 * 10**12,
    ...                       hardware_flops=6 * 10**12, time_s=2.0, peak_flops_per_s=4e12,
    ...                       convention="matmul", hardware="custom", ranks=1)
    >>> s.tflops_per_s, s.mfu, s.hfu, s.tokens_per_s
    (2.0, 0.5, 0.75, 32.0)
    >>> ThroughputSummary.from_dict(s.to_dict()) == s
    True
    """

    steps: int
    samples: int
    tokens: int | None
    model_flops: int
    hardware_flops: int
    time_s: float
    peak_flops_per_s: float
    convention: str
    hardware: str
    ranks: int = 1

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.time_s

    @property
    def tokens_per_s(self) -> float | None:
        return None if self.tokens is None else self.tokens / self.time_s

    @property
    def flops_per_s(self) -> float:
        """Achieved model FLOP/s."""
        return self.model_flops / self.time_s

    @property
    def tflops_per_s(self) -> float:
        return self.flops_per_s / 1e12

    @property
    def mfu(self) -> float:
        return self.model_flops / self.time_s / self.peak_flops_per_s

    @property
    def hfu(self) -> float:
        return self.hardware_flops / self.time_s / self.peak_flops_per_s

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThroughputSummary:
        return cls(**{f.name: data[f.name] for f in fields(cls)})


class Throughput:
    """Times the steps of a training loop and turns the counted FLOPs into MFU and HFU.

    Args:
        model: the module the step runs (a ``DistributedDataParallel`` wrapper is looked
            through: the count is the local model's arithmetic).
        hardware: a catalogue id, a ``flopwise bench-device`` profile path, or an
            :class:`~flopwise.hardware.Accelerator`; default: the detected CUDA device.
        peak_flops_per_s: the peak to divide by, instead of the hardware's.
        dtype: the precision whose peak applies (default: the one carrying most counted FLOPs).
        optimizer: counted once per step with the forward and backward passes.
        inputs: turns a batch into the model's inputs (a dict becomes keyword inputs, a tuple
            the positional ones); default: the batch itself.
        loss: ``loss(output, batch)`` gives the scalar the step differentiates; default: the
            output's ``.loss``, else the sum of its outputs (equal matmul FLOPs either way).
        convention: the convention of the FLOPs (``matmul`` by default).
        warmup_steps: the first steps, left out of :meth:`summary`.
        samples_of / tokens_of: count a batch's samples (default: the first tensor's first
            dimension) and tokens (default: the elements of ``input_ids``, or of an integer
            first tensor of two or more dimensions; else not reported).
        fake: count on fake tensors (nothing computed). ``False`` counts on the real batch: one
            more forward and backward before the clock starts, for models whose arithmetic
            depends on values (MoE routing), with ``cache=False`` to recount every step.
        cache: count each batch signature once (``False``: every step).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        hardware: str | Accelerator | None = None,
        peak_flops_per_s: float | None = None,
        dtype: str | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        inputs: Callable[[Any], Any] | None = None,
        loss: Callable[[Any, Any], torch.Tensor] | None = None,
        convention: str | Convention = MFU_CONVENTION,
        warmup_steps: int = 1,
        samples_of: Callable[[Any], int] | None = None,
        tokens_of: Callable[[Any], int | None] | None = None,
        fake: bool = True,
        cache: bool = True,
    ) -> None:
        if warmup_steps < 0:
            raise UsageError(f"warmup_steps={warmup_steps} is negative; pass 0 or more")
        if peak_flops_per_s is not None and not peak_flops_per_s > 0:
            raise UsageError(f"peak_flops_per_s={peak_flops_per_s!r} must be a positive FLOP/s figure")
        self.model = _unwrapped(model)
        self.optimizer = optimizer
        self.convention = get_convention(convention)
        self.warmup_steps = warmup_steps
        self._peak = peak_flops_per_s
        self._dtype = dtype
        self._inputs = inputs
        self._loss = loss
        self._samples_of = samples_of or _samples
        self._tokens_of = tokens_of or _tokens
        self._fake = fake
        self._cache = cache
        self.accelerator = _resolve(hardware, self.model) if peak_flops_per_s is None else None
        self._counts: dict[Any, StepCount] = {}
        self._records: list[StepRecord] = []
        self._open: tuple[Any, StepCount, bool, float, float] | None = None

    # -- the step --------------------------------------------------------------------------
    @contextmanager
    def step(self, batch: Any) -> Iterator[None]:
        """Time one training step on ``batch`` (forward, backward and optimizer step inside).

        A step whose body raises is not recorded; the exception propagates unchanged.
        """
        self.start(batch)
        try:
            yield
        except BaseException:
            self.cancel()
            raise
        self.stop()

    def start(self, batch: Any) -> None:
        """Open a step (the explicit form of :meth:`step`, for callbacks)."""
        if self._open is not None:
            raise UsageError("a step is already open; call stop() (or cancel()) before start()")
        key = _signature(batch)
        count = self._counts.get(key) if self._cache else None
        counted = count is None
        if count is None:
            count = self._counts[key] = self.count(batch)
        peak = self._peak_for(count.dtype)      # a dtype the hardware lacks fails before the step
        _synchronise(self.model)
        self._open = (batch, count, counted, peak, time.perf_counter())

    def stop(self) -> StepRecord:
        """Close the open step and record it."""
        if self._open is None:
            raise UsageError("stop() without an open step; call start(batch) first")
        _synchronise(self.model)
        end_s = time.perf_counter()
        batch, count, counted, peak, start_s = self._open
        self._open = None
        record = StepRecord(
            index=len(self._records), start_s=start_s, end_s=end_s,
            samples=self._samples_of(batch), tokens=self._tokens_of(batch),
            model_flops=count.model_flops, hardware_flops=count.hardware_flops,
            peak_flops_per_s=peak,
            warmup=len(self._records) < self.warmup_steps, counted=counted)
        self._records.append(record)
        return record

    def cancel(self) -> None:
        """Drop the open step without recording it."""
        self._open = None

    # -- counting --------------------------------------------------------------------------
    def count(self, batch: Any) -> StepCount:
        """The FLOPs of one step on a batch of this signature (on fake tensors unless
        ``fake=False``)."""
        from flopwise.api import profile

        value = self._inputs(batch) if self._inputs is not None else batch
        positional, keyword = ((), value) if isinstance(value, dict) else (value, None)
        loss = None if self._loss is None else _bound_loss(self._loss, batch)
        watch = _RecomputeWatch()
        with watch.installed():
            report = profile(self.model, positional, keyword, backward=True, loss=loss,
                             optimizer=self.optimizer, convention=self.convention, fake=self._fake,
                             observers=(watch,))
        recomputed = sum(self.convention.flops(event.cost) for event in watch.events)
        return StepCount(model_flops=report.total.flops - recomputed,
                         hardware_flops=report.total.flops, convention=self.convention.name,
                         dtype=self._dtype or _main_dtype(report.events, self.convention))

    @property
    def is_open(self) -> bool:
        """Whether a step has started and not stopped."""
        return self._open is not None

    # -- results ---------------------------------------------------------------------------
    @property
    def records(self) -> tuple[StepRecord, ...]:
        """Every recorded step, warm-up included."""
        return tuple(self._records)

    @property
    def last(self) -> StepRecord:
        if not self._records:
            raise UsageError("no step recorded yet; wrap a training step in monitor.step(batch)")
        return self._records[-1]

    @property
    def hardware_name(self) -> str:
        return self.accelerator.id if self.accelerator is not None else "given peak"

    def summary(self, window: int | None = None) -> ThroughputSummary:
        """Rates over the last ``window`` timed steps (default: all), warm-up excluded."""
        timed = [r for r in self._records if not r.warmup]
        if window is not None:
            timed = timed[-window:] if window > 0 else []
        if not timed:
            raise UsageError(
                f"no timed step yet ({len(self._records)} recorded, {self.warmup_steps} of them "
                "warm-up); run more steps or lower warmup_steps")
        time_s = sum(r.time_s for r in timed)
        tokens = [r.tokens for r in timed]
        return ThroughputSummary(
            steps=len(timed), samples=sum(r.samples for r in timed),
            tokens=None if None in tokens else sum(t for t in tokens if t is not None),
            model_flops=sum(r.model_flops for r in timed),
            hardware_flops=sum(r.hardware_flops for r in timed), time_s=time_s,
            peak_flops_per_s=_mean_peak(timed, time_s),
            convention=self.convention.name, hardware=self.hardware_name)

    def global_summary(self, window: int | None = None, group: Any = None) -> ThroughputSummary:
        """The summary over every rank of a ``torch.distributed`` group: FLOPs, samples,
        tokens and peaks summed, the time the slowest rank's (a collective: call it on all
        ranks)."""
        import torch.distributed as dist

        local = self.summary(window)
        sums = torch.tensor([local.model_flops, local.hardware_flops, local.samples,
                             local.tokens or 0, local.steps], dtype=torch.int64)
        reals = torch.tensor([local.peak_flops_per_s], dtype=torch.float64)
        slowest = torch.tensor([local.time_s], dtype=torch.float64)
        for tensor, op in ((sums, dist.ReduceOp.SUM), (reals, dist.ReduceOp.SUM),
                           (slowest, dist.ReduceOp.MAX)):
            dist.all_reduce(tensor, op=op, group=group)
        model, hardware, samples, tokens, steps = (int(v) for v in sums.tolist())
        return ThroughputSummary(
            steps=steps, samples=samples, tokens=None if local.tokens is None else tokens,
            model_flops=model, hardware_flops=hardware, time_s=float(slowest.item()),
            peak_flops_per_s=float(reals.item()), convention=local.convention,
            hardware=local.hardware, ranks=dist.get_world_size(group))

    def metrics(self) -> dict[str, float]:
        """The last step's figures, for a logger: every value a number (MFU as a fraction)."""
        record = self.last
        values = {"flops_per_step": float(record.model_flops),
                  "hardware_flops_per_step": float(record.hardware_flops),
                  "step_time_s": record.time_s,
                  "samples_per_second": record.samples / record.time_s,
                  "tflops": record.model_flops / record.time_s / 1e12,
                  "mfu": record.mfu,
                  "hfu": record.hardware_flops / record.time_s / record.peak_flops_per_s}
        if record.tokens is not None:
            values["tokens_per_second"] = record.tokens / record.time_s
        return values

    def _peak_for(self, dtype: str) -> float:
        if self._peak is not None:
            return self._peak
        assert self.accelerator is not None
        allow_tf32 = torch.cuda.is_available() and torch.backends.cuda.matmul.allow_tf32
        return self.accelerator.peak_for(dtype, allow_tf32=allow_tf32)


# -- recomputation ----------------------------------------------------------------------------
class _RecomputeWatch:
    """Collects the events of module forwards that run during backward: what activation
    checkpointing recomputes. Global module hooks, installed for one count only."""

    def __init__(self) -> None:
        self.depth = 0
        self.events: list[OpEvent] = []

    def on_op(self, op: str, args: tuple, kwargs: dict, out: Any, event: OpEvent) -> None:
        if self.depth and event.phase is Phase.BACKWARD and event.status is Status.COUNTED:
            self.events.append(event)

    def _enter(self, module: Any, args: Any) -> None:
        self.depth += 1

    def _exit(self, module: Any, args: Any, output: Any) -> None:
        self.depth -= 1

    @contextmanager
    def installed(self) -> Iterator[None]:
        hooks = torch.nn.modules.module
        handles = [hooks.register_module_forward_pre_hook(self._enter),
                   hooks.register_module_forward_hook(self._exit, always_call=True)]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()


# -- helpers ----------------------------------------------------------------------------------
def _unwrapped(model: torch.nn.Module) -> torch.nn.Module:
    from torch.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


def _bound_loss(loss: Callable[[Any, Any], torch.Tensor], batch: Any) -> Callable[[Any], torch.Tensor]:
    return lambda output: loss(output, batch)


def _signature(batch: Any) -> tuple[Any, ...]:
    leaves, spec = tree_flatten(batch)
    return (str(spec), *((tuple(leaf.shape), leaf.dtype, leaf.device)
                         if isinstance(leaf, torch.Tensor) else repr(leaf) for leaf in leaves))


def _tensors(batch: Any) -> list[torch.Tensor]:
    return [leaf for leaf in tree_flatten(batch)[0] if isinstance(leaf, torch.Tensor)]


def _samples(batch: Any) -> int:
    tensors = [t for t in _tensors(batch) if t.dim() > 0]
    if not tensors:
        raise UsageError("cannot tell the batch size: the batch holds no tensor with a dimension; "
                         "pass samples_of=")
    return int(tensors[0].shape[0])


def _tokens(batch: Any) -> int | None:
    if isinstance(batch, dict) and isinstance(batch.get("input_ids"), torch.Tensor):
        return batch["input_ids"].numel()
    tensors = _tensors(batch)
    first = tensors[0] if tensors else None
    if first is not None and first.dim() >= 2 and not first.is_floating_point():
        return first.numel()
    return None


def _mean_peak(records: list[StepRecord], time_s: float) -> float:
    """The one peak of the steps, or (steps in several dtypes) their time-weighted mean."""
    peaks = {r.peak_flops_per_s for r in records}
    if len(peaks) == 1:
        return peaks.pop()
    # NB: MFU over steps of mixed precisions against the time-weighted mean of their peaks
    return sum(r.peak_flops_per_s * r.time_s for r in records) / time_s


def _main_dtype(events: tuple[OpEvent, ...], convention: Convention) -> str:
    """The dtype of the ops that carry most FLOPs (float32 when nothing was counted)."""
    flops: Counter[str] = Counter()
    for event in events:
        if event.status is Status.COUNTED:
            flops[event.dtype] += convention.flops(event.cost)
    best = [dtype for dtype, value in flops.most_common() if value > 0]
    return best[0] if best else "float32"


def _synchronise(model: torch.nn.Module) -> None:
    """Wait for queued CUDA kernels, so perf_counter brackets the work (a no-op on CPU)."""
    device = _device(model)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _device(model: torch.nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


def _resolve(hardware: str | Accelerator | None, model: torch.nn.Module) -> Accelerator:
    if isinstance(hardware, Accelerator):
        return hardware
    if hardware is not None:
        return get_accelerator(hardware)
    return detect_accelerator(_device(model))


def detect_accelerator(device: torch.device) -> Accelerator:
    """The catalogue entry of a CUDA device, matched on its name (``NVIDIA H100 80GB HBM3``
    is ``h100-sxm``); a CPU, or a GPU the catalogue lacks, is an error naming the fixes.

    >>> detect_accelerator(torch.device("cpu"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    flopwise.errors.UsageError: no peak FLOP/s for a cpu device: pass hardware= (a catalogue ...
    """
    fix = ("pass hardware= (a catalogue id, see flopwise hardware, or a flopwise bench-device "
           "profile) or peak_flops_per_s=")
    if device.type != "cuda":
        raise UsageError(f"no peak FLOP/s for a {device.type} device: {fix}")
    name = torch.cuda.get_device_name(device)
    match = _catalogue_match(name)
    if match is None:
        raise UsageError(f"the GPU {name!r} is not in the catalogue: {fix}")
    return match


def _catalogue_match(device_name: str) -> Accelerator | None:
    """The entry whose id's words all appear in the device name, the most specific one first
    (``sxm`` parts are the default form factor and need not appear).

    >>> _catalogue_match("NVIDIA H100 80GB HBM3").id, _catalogue_match("NVIDIA H100 PCIe").id
    ('h100-sxm', 'h100-pcie')
    >>> _catalogue_match("NVIDIA A100-SXM4-80GB").id, _catalogue_match("NVIDIA L40S").id
    ('a100-80gb', 'l40s')
    >>> _catalogue_match("NVIDIA GeForce GTX 1080") is None
    True
    """
    words = set(device_name.lower().replace("-", " ").split())
    matches = []
    for entry in load_catalogue():
        parts = [part for part in entry.id.split("-") if not part.startswith("sxm")]
        if all(part in words for part in parts):
            matches.append((len(parts), entry))
    return max(matches, key=lambda pair: pair[0])[1] if matches else None
