"""The largest batch that fits a device's memory.

A run's peak memory is affine in the batch size for almost every model: parameters, buffers and
optimizer state are fixed, activations, saved tensors and gradients of activations grow with
each sample. Profiling at two batch sizes (on ``meta`` or under fake tensors: nothing is
allocated) gives the line ``peak(b) = fixed + b · per_sample``, and the largest ``b`` with
``peak(b) <= usable memory`` follows.

>>> fit = fit_batch((1, 2), (1_000_000, 1_500_000), 80 * 10**9, device="h100-sxm")
>>> fit.bytes_per_sample, fit.fixed_bytes, fit.batch          # (80e9 − 500,000) // 500,000
(500000, 500000, 159999)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flopwise.errors import UsageError
from flopwise.memory.report import BatchFit

if TYPE_CHECKING:
    import torch

    from flopwise.hardware.catalogue import Accelerator
    from flopwise.report import Report

__all__ = ["BatchFit", "fit_batch", "largest_batch", "with_largest_batch"]


def fit_batch(batches: Sequence[int], peaks_bytes: Sequence[int], memory_bytes: int, *,
              device: str = "", usable_fraction: float = 1.0,
              training: bool = False) -> BatchFit:
    """Fit ``peak = fixed + b · per_sample`` through two measured points; solve for ``b``.

    ``usable_fraction`` of ``memory_bytes`` is available to the run (1.0 by default; leave room
    for the CUDA context and the allocator's fragmentation with e.g. 0.9).
    """
    (b1, b2), (p1, p2) = tuple(batches), tuple(peaks_bytes)
    if b2 <= b1 or b1 < 1:
        raise UsageError(f"batch fit needs two batch sizes 1 <= b1 < b2, got {b1} and {b2}")
    if not 0 < usable_fraction <= 1:
        raise UsageError(f"usable memory fraction must be in (0, 1], got {usable_fraction!r}")
    growth = p2 - p1
    if growth <= 0:
        raise UsageError(f"peak memory does not grow with the batch ({p1} bytes at batch {b1}, "
                         f"{p2} at {b2}); are the inputs batched along their first dimension?")
    per_sample = -(-growth // (b2 - b1))          # rounded up
    fixed = p1 - per_sample * b1
    usable = int(memory_bytes * usable_fraction)
    batch = max(0, (usable - fixed) // per_sample)
    return BatchFit(device, memory_bytes, usable, (b1, b2), (p1, p2), fixed, per_sample,
                    batch, training)


def largest_batch(model: Any, inputs_for: Callable[[int], tuple[tuple[Any, ...], dict[str, Any]]],
                  accelerator: Accelerator | str, *, backward: bool = False,
                  optimizer: torch.optim.Optimizer | None = None,
                  loss: Callable[[Any], Any] | None = None, fake: bool = False,
                  batches: tuple[int, int] = (2, 4), usable_fraction: float = 1.0) -> BatchFit:
    """Profile ``model`` at two batch sizes and fit the largest batch for ``accelerator``.

    ``inputs_for(b)`` returns ``(args, kwargs)`` for a batch of ``b`` samples — ``meta``
    tensors for a meta model; with ``fake=True`` real models run under fake tensors, so nothing
    is computed either way.

    >>> import torch
    >>> model = torch.nn.Linear(1024, 1024, device="meta")
    >>> fit = largest_batch(model, lambda b: ((torch.empty(b, 1024, device="meta"),), {}),
    ...                     "h100-sxm")
    >>> fit.bytes_per_sample                 # input row + output row, float32
    8192
    """
    from flopwise.api import profile
    from flopwise.hardware.catalogue import get_accelerator

    device = accelerator if not isinstance(accelerator, str) else get_accelerator(accelerator)
    peaks = []
    for batch in batches:
        args, kwargs = inputs_for(batch)
        report = profile(model, args, kwargs, backward=backward, optimizer=optimizer, loss=loss,
                         fake=fake, memory=True)
        memory = report.memory
        assert memory is not None                    # memory=True always attaches it
        peaks.append(memory.peak_bytes)
    return fit_batch(batches, peaks, device.memory_bytes, device=device.id,
                     usable_fraction=usable_fraction, training=backward)


def with_largest_batch(report: Report, model: Any, args: tuple[Any, ...] = (),
                       kwargs: Mapping[str, Any] | None = None, *,
                       hardware: Accelerator | str) -> Report:
    """``report`` with the largest batch that fits ``hardware``'s memory in its memory section.

    ``args``/``kwargs`` are the inputs ``report`` was made with; every tensor of their batch
    size is resized (:func:`~flopwise.capture.run.resized_inputs`) and the model profiled twice
    more, on ``meta`` or under fake tensors. Needs a report made with ``memory=True``.
    """
    from flopwise.capture.run import resized_inputs

    memory = report.memory
    if memory is None:
        raise UsageError("the batch fit extends the memory section; profile with "
                         "memory=True first")
    keyword = dict(kwargs or {})
    meta = report.run.device == "meta"
    fit = largest_batch(model, lambda b: resized_inputs(args, keyword, b, meta), hardware,
                        backward=report.run.backward, fake=not meta)
    return report.with_section(memory.with_fit(fit))
