"""The ``serving`` report section: prefill and decode costs, traced, as typed records.

Everything here is plain data (no torch): the section is built by
:func:`flopwise.serving.profile_generation`, timed on an accelerator by
:func:`flopwise.serving.serving_times`, and read back from JSON with :meth:`from_dict`.

Attach it with ``report.with_section(section)``; read it with ``report.section(ServingSection)``.

A decode step at *context* ``c`` is the step whose new token attends to ``c`` keys (its own
included): after a prompt of ``s`` tokens, the ``k``-th decode step has ``c = s + k``.

>>> from fractions import Fraction
>>> piece = DecodePiece(3, 9, Polynomial((Fraction(100), Fraction(4))),
...                     Polynomial((Fraction(50), Fraction(2))),
...                     Polynomial((Fraction(0), Fraction(16))), (3, 4, 5), (6, 9))
>>> section = ServingSection(model="m", cache="dynamic", convention="matmul", batch=1,
...     prompt_tokens=2, new_tokens=8, dtype="float32", weights_bytes=1000,
...     kv_bytes_per_token=16, prefill=PhaseCost(200, 100, 1000, 32), decode=(piece,))
>>> section.decode_at(5)
PhaseCost(flops=120, macs=60, weights_bytes=1000, kv_bytes=80)
>>> section.decode_flops_total == sum(100 + 4 * c for c in range(3, 10))
True
>>> ServingSection.from_dict(section.to_dict()) == section
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from flopwise.errors import UsageError
from flopwise.render.units import format_bytes, format_count, format_grouped, format_seconds
from flopwise.serving.polynomial import Polynomial

__all__ = ["PhaseCost", "DecodePiece", "ServingTime", "Hardware", "ServingSection"]


@dataclass(frozen=True)
class PhaseCost:
    """One forward step of the whole batch: FLOPs (under the section's convention), MACs, and
    the bytes it must read: the weights once and the KV cache (written, for a prefill)."""

    flops: int
    macs: int
    weights_bytes: int
    kv_bytes: int

    @property
    def bytes_read(self) -> int:
        """Weights + KV cache."""
        return self.weights_bytes + self.kv_bytes

    @property
    def intensity(self) -> float:
        """Arithmetic intensity: FLOPs per byte read."""
        return self.flops / self.bytes_read

    def to_dict(self) -> dict[str, Any]:
        return {"flops": self.flops, "macs": self.macs, "weights_bytes": self.weights_bytes,
                "kv_bytes": self.kv_bytes, "bytes_read": self.bytes_read,
                "intensity": self.intensity}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PhaseCost:
        return cls(int(data["flops"]), int(data["macs"]), int(data["weights_bytes"]),
                   int(data["kv_bytes"]))


@dataclass(frozen=True)
class DecodePiece:
    """Decode cost for contexts ``first_context..last_context``: exact polynomials in ``c``
    fitted through the steps at ``sampled`` and checked at ``checked``.

    A sliding window splits the range: below the window the attended keys grow with ``c``,
    above it they stay at the window.
    """

    first_context: int
    last_context: int
    flops: Polynomial
    macs: Polynomial
    kv_bytes: Polynomial
    sampled: tuple[int, ...]
    checked: tuple[int, ...]

    def covers(self, context: int) -> bool:
        return self.first_context <= context <= self.last_context

    def to_dict(self) -> dict[str, Any]:
        return {"first_context": self.first_context, "last_context": self.last_context,
                "flops": self.flops.to_list(), "flops_formula": str(self.flops),
                "macs": self.macs.to_list(), "kv_bytes": self.kv_bytes.to_list(),
                "kv_bytes_formula": str(self.kv_bytes),
                "sampled": list(self.sampled), "checked": list(self.checked)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecodePiece:
        return cls(int(data["first_context"]), int(data["last_context"]),
                   Polynomial.from_list(data["flops"]), Polynomial.from_list(data["macs"]),
                   Polynomial.from_list(data["kv_bytes"]), tuple(data["sampled"]),
                   tuple(data["checked"]))


@dataclass(frozen=True)
class ServingTime:
    """Roofline time of serving ``batch`` sequences: time to first token (the prefill), time
    per output token at the first and last decode step, all decode steps, and tokens/s."""

    batch: int
    ttft_s: float
    prefill_bound: str
    tpot_first_s: float
    tpot_last_s: float
    decode_bound: str
    decode_s: float
    tokens_per_s: float

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServingTime:
        return cls(int(data["batch"]), float(data["ttft_s"]), str(data["prefill_bound"]),
                   float(data["tpot_first_s"]), float(data["tpot_last_s"]),
                   str(data["decode_bound"]), float(data["decode_s"]),
                   float(data["tokens_per_s"]))


@dataclass(frozen=True)
class Hardware:
    """The accelerator the times are for, and where decode turns compute-bound.

    ``crossover_batch`` is the smallest batch whose last decode step is compute-bound (``None``
    when the KV cache keeps it memory-bound at any batch); ``weights_only_crossover_batch``
    the same ignoring the KV cache (the textbook ``ridge · W / F``).
    """

    id: str
    peak_flops_per_s: float
    bandwidth_bytes_per_s: float
    crossover_batch: int | None
    weights_only_crossover_batch: int | None
    times: tuple[ServingTime, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "peak_flops_per_s": self.peak_flops_per_s,
                "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
                "crossover_batch": self.crossover_batch,
                "weights_only_crossover_batch": self.weights_only_crossover_batch,
                "times": [time.to_dict() for time in self.times]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hardware:
        return cls(str(data["id"]), float(data["peak_flops_per_s"]),
                   float(data["bandwidth_bytes_per_s"]), data["crossover_batch"],
                   data["weights_only_crossover_batch"],
                   tuple(ServingTime.from_dict(row) for row in data["times"]))


@dataclass(frozen=True)
class ServingSection:
    """Serving cost of ``batch`` prompts of ``prompt_tokens`` generating ``new_tokens`` each.

    ``prefill`` is the prompt's forward pass (it yields the first new token); ``decode`` the
    per-step formula over the ``new_tokens − 1`` decode steps, contexts
    ``prompt_tokens + 1 .. prompt_tokens + new_tokens − 1``. ``kv_bytes_per_token`` is what
    one token of context adds to the cache of the batch over all layers (before any window).
    ``unsupported`` lists ops of the decode steps without a formula (the prefill's are in its
    report). Costs are for the traced batch; ``hardware`` (optional) scales them per sequence.
    """

    KEY: ClassVar[str] = "serving"

    model: str
    cache: str
    convention: str
    batch: int
    prompt_tokens: int
    new_tokens: int
    dtype: str
    weights_bytes: int
    kv_bytes_per_token: int
    prefill: PhaseCost
    decode: tuple[DecodePiece, ...]
    unsupported: Mapping[str, int] = field(default_factory=dict, hash=False)
    hardware: Hardware | None = None

    @property
    def decode_contexts(self) -> range:
        """The contexts of the decode steps."""
        return range(self.prompt_tokens + 1, self.prompt_tokens + self.new_tokens)

    def piece_at(self, context: int) -> DecodePiece:
        for piece in self.decode:
            if piece.covers(context):
                return piece
        covered = ", ".join(f"{p.first_context}..{p.last_context}" for p in self.decode)
        raise UsageError(f"no decode formula at context {context}; the profile covers {covered}")

    def decode_at(self, context: int) -> PhaseCost:
        """The decode step at ``context``, from the fitted formula."""
        piece = self.piece_at(context)
        return PhaseCost(piece.flops(context), piece.macs(context), self.weights_bytes,
                         piece.kv_bytes(context))

    @property
    def decode_flops_total(self) -> int:
        """FLOPs of all decode steps."""
        return sum(p.flops.total(p.first_context, p.last_context) for p in self.decode)

    @property
    def kv_bytes_end(self) -> int:
        """The KV cache the last decode step reads (the prefill's when there is none)."""
        if not self.decode:
            return self.prefill.kv_bytes
        return self.decode_at(self.decode_contexts[-1]).kv_bytes

    def with_hardware(self, hardware: Hardware) -> ServingSection:
        return replace(self, hardware=hardware)

    # -- what renderers show (flopwise.render.sections finds these two methods) ----------------
    def title(self) -> str:
        """The heading of the section in the text, tree and Markdown reports."""
        return (f"Serving: {self.batch} × {self.prompt_tokens} prompt tokens + "
                f"{self.new_tokens} new, {self.cache} cache (FLOPs: {self.convention})")

    def pairs(self) -> list[tuple[str, str]]:
        """Prefill, the decode formula piece by piece, KV sizes and (with hardware) times, as
        label/value text.

        >>> from fractions import Fraction
        >>> piece = DecodePiece(9, 12, Polynomial((Fraction(1000), Fraction(8))),
        ...     Polynomial((Fraction(500), Fraction(4))), Polynomial((Fraction(0), Fraction(64))),
        ...     (9, 10, 11), (12,))
        >>> section = ServingSection("m", "dynamic", "matmul", 1, 8, 5, "float32", 4000, 64,
        ...                          PhaseCost(9000, 4500, 4000, 512), (piece,))
        >>> dict(section.pairs())["decode step (c = context)"]
        'FLOPs 1000 + 8·c, KV 64·c B, for c = 9..12 (fitted at 9, 10, 11; checked at 12)'
        """
        pairs = [("prefill", _phase_text(self.prefill))]
        for piece in self.decode:
            checked = ", ".join(map(str, piece.checked)) or "-"
            pairs.append(("decode step (c = context)",
                          f"FLOPs {piece.flops}, KV {piece.kv_bytes} B, for c = "
                          f"{piece.first_context}..{piece.last_context} (fitted at "
                          f"{', '.join(map(str, piece.sampled))}; checked at {checked})"))
        contexts = self.decode_contexts
        pairs.append((f"last decode step (c = {contexts[-1]})",
                      _phase_text(self.decode_at(contexts[-1]))))
        pairs.append(("KV cache", f"{format_bytes(self.kv_bytes_per_token)} per token, "
                      f"{format_bytes(self.kv_bytes_end)} at the end"))
        if self.unsupported:
            listed = ", ".join(f"{op} ×{calls}" for op, calls in self.unsupported.items())
            pairs.append(("decode ops without a formula", listed))
        return pairs + ([] if self.hardware is None else _times_text(self.hardware))

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "cache": self.cache, "convention": self.convention,
            "batch": self.batch, "prompt_tokens": self.prompt_tokens,
            "new_tokens": self.new_tokens, "dtype": self.dtype,
            "weights_bytes": self.weights_bytes, "kv_bytes_per_token": self.kv_bytes_per_token,
            "kv_bytes_end": self.kv_bytes_end, "decode_flops_total": self.decode_flops_total,
            "prefill": self.prefill.to_dict(),
            "decode": [piece.to_dict() for piece in self.decode],
            "unsupported": dict(self.unsupported),
            "hardware": None if self.hardware is None else self.hardware.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ServingSection:
        hardware = data.get("hardware")
        return cls(
            model=str(data["model"]), cache=str(data["cache"]),
            convention=str(data["convention"]), batch=int(data["batch"]),
            prompt_tokens=int(data["prompt_tokens"]), new_tokens=int(data["new_tokens"]),
            dtype=str(data["dtype"]), weights_bytes=int(data["weights_bytes"]),
            kv_bytes_per_token=int(data["kv_bytes_per_token"]),
            prefill=PhaseCost.from_dict(data["prefill"]),
            decode=tuple(DecodePiece.from_dict(piece) for piece in data["decode"]),
            unsupported={str(op): int(calls) for op, calls in data.get("unsupported", {}).items()},
            hardware=None if hardware is None else Hardware.from_dict(hardware),
        )


def _phase_text(phase: PhaseCost) -> str:
    return (f"{format_count(phase.flops)} FLOPs, reads {format_bytes(phase.weights_bytes)} "
            f"weights + {format_bytes(phase.kv_bytes)} KV, {phase.intensity:.1f} FLOP/B")


def _times_text(hardware: Hardware) -> list[tuple[str, str]]:
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
