"""Serving time on an accelerator: the roofline of the prefill and of every decode step.

Pure arithmetic over a :class:`~flopwise.serving.section.ServingSection` and a catalogue entry,
with the planner's own helpers (:func:`flopwise.llm.timing.roofline`,
:func:`flopwise.llm.timing.decode_crossover_batch`); no torch.

>>> from fractions import Fraction
>>> from flopwise.hardware import get_accelerator
>>> from flopwise.serving.section import DecodePiece, PhaseCost, Polynomial, ServingSection
>>> flat = Polynomial((Fraction(2 * 10**9),))                  # 2 GFLOPs per step, any context
>>> piece = DecodePiece(2, 3, flat, flat, Polynomial((Fraction(0),)), (2, 3), ())
>>> section = ServingSection("m", "dynamic", "matmul", 1, 1, 3, "bfloat16", 2 * 10**9, 0,
...                          PhaseCost(2 * 10**9, 10**9, 2 * 10**9, 0), (piece,))
>>> timed = serving_times(section, get_accelerator("h100-sxm"), (1,)).hardware
>>> timed.times[0].tpot_first_s == 2e9 / 3.35e12              # memory-bound: W / bandwidth
True
>>> timed.weights_only_crossover_batch                          # ⌈ridge · W / F⌉ = ⌈295.3⌉
296
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flopwise.errors import UsageError
from flopwise.llm.timing import Roofline, decode_crossover_batch, roofline
from flopwise.serving.section import Hardware, PhaseCost, ServingSection, ServingTime

if TYPE_CHECKING:
    from flopwise.hardware.catalogue import Accelerator

__all__ = ["serving_times"]


def _scaled(phase: PhaseCost, traced: int, batch: int, peak: float, bandwidth: float) -> Roofline:
    """The phase for ``batch`` sequences, from its cost for ``traced`` sequences."""
    # NB: FLOPs and KV bytes scale linearly with the batch and the weights are read once:
    # exact for the matmuls of dense models; elementwise work done once per position (rotary
    # tables) is scaled too, and a mixture of experts reads more experts as the batch grows.
    return roofline(phase.flops * batch // traced, phase.weights_bytes + phase.kv_bytes * batch // traced,
                    peak, bandwidth)


def _time(section: ServingSection, batch: int, peak: float, bandwidth: float) -> ServingTime:
    traced = section.batch
    prefill = _scaled(section.prefill, traced, batch, peak, bandwidth)
    steps = [_scaled(section.decode_at(context), traced, batch, peak, bandwidth)
             for context in section.decode_contexts]
    decode_s = sum(step.seconds for step in steps)
    return ServingTime(
        batch=batch,
        ttft_s=prefill.seconds,
        prefill_bound=prefill.bound,
        tpot_first_s=steps[0].seconds,
        tpot_last_s=steps[-1].seconds,
        decode_bound=steps[-1].bound,
        decode_s=decode_s,
        tokens_per_s=batch * len(steps) / decode_s,
    )


def serving_times(section: ServingSection, accelerator: Accelerator,
                  batches: Sequence[int] = ()) -> ServingSection:
    """The section with its roofline times on ``accelerator`` for each batch in ``batches``
    (default: the traced batch), and the batch where the last decode step turns compute-bound.

    The peak is the accelerator's for the weights' dtype; the section's FLOPs convention is
    the one timed (``matmul`` counts only the matrix products).
    """
    if not section.decode:
        raise UsageError("serving times need at least one decode step; generate 2 or more tokens")
    chosen = tuple(batches) or (section.batch,)
    if any(batch < 1 for batch in chosen):
        raise UsageError(f"--batch sizes must be at least 1, got {','.join(map(str, chosen))}")
    peak = accelerator.peak_for(section.dtype)
    bandwidth = float(accelerator.bandwidth_bytes_per_s)
    last = section.decode_at(section.decode_contexts[-1])
    per_sequence = last.flops / section.batch
    return section.with_hardware(Hardware(
        id=accelerator.id,
        peak_flops_per_s=peak,
        bandwidth_bytes_per_s=bandwidth,
        crossover_batch=decode_crossover_batch(
            per_sequence, section.weights_bytes, last.kv_bytes // section.batch, peak, bandwidth),
        weights_only_crossover_batch=decode_crossover_batch(
            per_sequence, section.weights_bytes, 0, peak, bandwidth),
        times=tuple(_time(section, batch, peak, bandwidth) for batch in chosen),
    ))
