"""The serving section as label/value pairs, for every renderer (table, tree, Markdown).

>>> from fractions import Fraction
>>> from flopwise.serving.section import DecodePiece, PhaseCost, Polynomial, ServingSection
>>> piece = DecodePiece(9, 12, Polynomial((Fraction(1000), Fraction(8))),
...     Polynomial((Fraction(500), Fraction(4))), Polynomial((Fraction(0), Fraction(64))),
...     (9, 10, 11), (12,))
>>> section = ServingSection("m", "dynamic", "matmul", 1, 8, 5, "float32", 4000, 64,
...                          PhaseCost(9000, 4500, 4000, 512), (piece,))
>>> dict(serving_pairs(section))["decode step (c = context)"]
'FLOPs 1000 + 8·c, KV 64·c B, for c = 9..12 (fitted at 9, 10, 11; checked at 12)'
"""

from __future__ import annotations

from flopwise.render.units import format_bytes, format_count, format_grouped, format_seconds
from flopwise.serving.section import PhaseCost, ServingSection

__all__ = ["serving_title", "serving_pairs"]


def serving_title(section: ServingSection) -> str:
    return (f"Serving: {section.batch} × {section.prompt_tokens} prompt tokens + "
            f"{section.new_tokens} new, {section.cache} cache (FLOPs: {section.convention})")


def _phase(phase: PhaseCost) -> str:
    return (f"{format_count(phase.flops)} FLOPs, reads {format_bytes(phase.weights_bytes)} "
            f"weights + {format_bytes(phase.kv_bytes)} KV, {phase.intensity:.1f} FLOP/B")


def _times(section: ServingSection) -> list[tuple[str, str]]:
    hardware = section.hardware
    if hardware is None:
        return []
    pairs = []
    for time in hardware.times:
        pairs.append((f"{hardware.id}, batch {time.batch}",
                      f"TTFT {format_seconds(time.ttft_s)} ({time.prefill_bound}), TPOT "
                      f"{format_seconds(time.tpot_first_s)} → {format_seconds(time.tpot_last_s)} "
                      f"({time.decode_bound}), {format_count(time.tokens_per_s)} tokens/s"))
    crossover = ("never: the KV cache keeps it memory-bound" if hardware.crossover_batch is None
                 else f"batch {format_grouped(hardware.crossover_batch)}")
    weights_only = hardware.weights_only_crossover_batch
    pairs.append(("decode compute-bound from", f"{crossover} (weights alone: batch "
                  f"{format_grouped(weights_only) if weights_only else '-'})"))
    return pairs


def serving_pairs(section: ServingSection) -> list[tuple[str, str]]:
    """Prefill, the decode formula piece by piece, KV sizes and (with hardware) times."""
    pairs = [("prefill", _phase(section.prefill))]
    for piece in section.decode:
        checked = ", ".join(map(str, piece.checked)) or "-"
        pairs.append(("decode step (c = context)",
                      f"FLOPs {piece.flops}, KV {piece.kv_bytes} B, for c = "
                      f"{piece.first_context}..{piece.last_context} (fitted at "
                      f"{', '.join(map(str, piece.sampled))}; checked at {checked})"))
    contexts = section.decode_contexts
    pairs.append((f"last decode step (c = {contexts[-1]})",
                  _phase(section.decode_at(contexts[-1]))))
    pairs.append(("KV cache", f"{format_bytes(section.kv_bytes_per_token)} per token, "
                  f"{format_bytes(section.kv_bytes_end)} at the end"))
    if section.unsupported:
        listed = ", ".join(f"{op} ×{calls}" for op, calls in section.unsupported.items())
        pairs.append(("decode ops without a formula", listed))
    return pairs + _times(section)
