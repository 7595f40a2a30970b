"""``profile_generation``: trace a prefill and a few decode steps with the model's own cache.

The prompt's forward pass is traced once with a fresh ``DynamicCache`` or ``StaticCache``.
A decode step at context ``c`` is traced by filling a fresh cache with ``c − 1`` tokens
(an untraced forward pass; shape-only on ``meta``) and counting the one-token forward that
follows. Its cost is a polynomial in ``c``, exact between the sliding windows the cache
layers declare: three steps give the formula, further steps check it.

>>> import torch, flopwise
>>> from transformers import AutoConfig, AutoModelForCausalLM
>>> config = AutoConfig.for_model("llama", hidden_size=64, intermediate_size=128,
...     num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=100)
>>> with torch.device("meta"):
...     model = AutoModelForCausalLM.from_config(config)
...     ids = torch.zeros(1, 16, dtype=torch.long)
>>> result = flopwise.profile_generation(model, ids, max_new_tokens=32, convention="matmul")
>>> str(result.decode[0].flops)       # 2·2·(64·(2·64 + 2·32) + 3·64·128) + 2·64·100 + 2·2·2·64·c
'160256 + 512·c'
>>> result.prefill.kv_bytes           # 2 (K, V) · 2 layers · 2 KV heads · 16 dims · 16 tokens · 4 bytes
8192
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from flopwise.conventions import DEFAULT_CONVENTION, Convention, get_convention
from flopwise.errors import MissingExtraError, UsageError
from flopwise.report import Report
from flopwise.serving.polynomial import fit
from flopwise.serving.section import DecodePiece, PhaseCost, ServingSection

__all__ = ["CACHES", "GenerationProfile", "profile_generation"]

#: The cache classes a generation can be traced with.
CACHES: tuple[str, ...] = ("dynamic", "static")
#: Steps a decode formula is fitted through (a quadratic at most), and checked at after that.
FIT_SAMPLES = 3
CHECKS = 2


@dataclass(frozen=True)
class GenerationProfile:
    """What :func:`profile_generation` found: the serving section and the prefill's report.

    ``report`` is the full profile of the prefill (per module, per op), with the section
    attached (``report.section(ServingSection)``, ``"serving"`` in its JSON).
    """

    serving: ServingSection
    report: Report

    @property
    def prefill(self) -> PhaseCost:
        """The prompt's forward pass."""
        return self.serving.prefill

    @property
    def decode(self) -> tuple[DecodePiece, ...]:
        """The per-step decode formula, piece by piece (split at sliding windows)."""
        return self.serving.decode

    def decode_at(self, context: int) -> PhaseCost:
        """The decode step whose token attends to ``context`` keys."""
        return self.serving.decode_at(context)


def _cache_factory(model: torch.nn.Module, kind: str, max_len: int) -> Callable[[], Any]:
    try:
        from transformers import DynamicCache, StaticCache
    except ImportError as error:
        raise MissingExtraError("transformers", "hf", "tracing generation with a KV cache") from error
    config = getattr(model, "config", None)
    if config is None or not hasattr(model, "generate"):
        raise UsageError(f"profile_generation needs a transformers generation model (with .config "
                         f"and .generate), got {type(model).__name__}")
    if kind == "static":
        return lambda: StaticCache(config=config, max_cache_len=max_len)
    return lambda: DynamicCache(config=config)


def _cache_keyword(model: torch.nn.Module) -> str:
    """transformers 5 names the forward's cache argument ``cache``; earlier, ``past_key_values``."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _token_bytes(layer: Any) -> int:
    """Bytes one token of context takes in a cache layer (K and V, the whole batch)."""
    keys, values = layer.keys, layer.values
    return (keys.numel() * keys.element_size() // keys.shape[-2]
            + values.numel() * values.element_size() // values.shape[-2])


def _kv_written(cache: Any, tokens: int) -> int:
    """Bytes the prefill of ``tokens`` tokens left in the cache (at most each layer's length)."""
    return sum(_token_bytes(layer) * min(tokens, layer.keys.shape[-2]) for layer in cache.layers)


def _kv_read(cache: Any) -> int:
    """Bytes of keys and values the next one-token step attends to, layer by layer."""
    return sum(_token_bytes(layer) * cache.get_mask_sizes(1, index)[0]
               for index, layer in enumerate(cache.layers))


@dataclass(frozen=True)
class _Tracer:
    model: torch.nn.Module
    new_cache: Callable[[], Any]
    keyword: str
    ids: torch.Tensor
    convention: Convention
    strict: bool
    name: str | None

    def forward(self, ids: torch.Tensor, cache: Any, **extra: Any) -> Report:
        import flopwise

        kwargs = {"input_ids": ids, self.keyword: cache, "use_cache": True, **extra}
        return flopwise.profile(self.model, kwargs=kwargs, convention=self.convention,
                                strict=self.strict, name=self.name)

    def filled(self, tokens: int) -> Any:
        """A fresh cache holding ``tokens`` tokens (the forward that fills it is not counted)."""
        cache = self.new_cache()
        filler = self.ids.new_zeros((self.ids.shape[0], tokens))
        self.model(input_ids=filler, **{self.keyword: cache, "use_cache": True})
        return cache

    def steps(self, contexts: Sequence[int], cache: Any = None,
              held: int = -1) -> list[tuple[int, int, int, int, dict[str, int]]]:
        """(context, FLOPs, MACs, KV bytes read, unsupported ops) of the decode step at each
        context; a step reuses ``cache`` (holding ``held`` tokens) or the cache the previous
        step extended when it follows on from it."""
        rows = []
        for context in sorted(contexts):
            if context - 1 != held:
                cache = self.filled(context - 1)
            kv = _kv_read(cache)
            report = self.forward(self.ids[:, -1:], cache)
            held = context
            rows.append((context, report.total.flops, report.total.macs, kv, report.unsupported))
        return rows


def _pieces(first: int, last: int, windows: Sequence[int]) -> list[tuple[int, int]]:
    """[first, last] split after every window inside it: the keys stop growing there."""
    edges = sorted(w for w in set(windows) if first <= w < last)
    starts = [first] + [w + 1 for w in edges]
    ends = edges + [last]
    return list(zip(starts, ends))


def _points(first: int, last: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The contexts to fit through (the piece's first steps) and to check at (later ones)."""
    every = range(first, last + 1)
    if len(every) <= FIT_SAMPLES + CHECKS:
        return tuple(every[:FIT_SAMPLES]), tuple(every[FIT_SAMPLES:])
    return tuple(every[:FIT_SAMPLES]), ((first + last) // 2, last)


def _decode_piece(tracer: _Tracer, first: int, last: int, unsupported: dict[str, int],
                  cache: Any = None, held: int = -1) -> DecodePiece:
    sampled, checked = _points(first, last)
    rows = tracer.steps(sampled + checked, cache, held)
    for *_, missing in rows:
        for op, calls in missing.items():
            unsupported[op] = max(unsupported.get(op, 0), calls)
    degree = min(FIT_SAMPLES, len(sampled)) - 1
    return DecodePiece(
        first_context=first, last_context=last,
        flops=fit([(row[0], row[1]) for row in rows], degree),
        macs=fit([(row[0], row[2]) for row in rows], degree),
        kv_bytes=fit([(row[0], row[3]) for row in rows], degree),
        sampled=sampled, checked=checked,
    )


def _windows(cache: Any, kind: str) -> list[int]:
    """The sliding windows of a dynamic cache's layers (a static cache's cost is constant)."""
    if kind == "static":
        return []
    return [length for layer in cache.layers if (length := layer.get_max_length()) > 0]


def _check(input_ids: Any, max_new_tokens: int, cache: str) -> None:
    if cache not in CACHES:
        raise UsageError(f"cache must be one of {', '.join(CACHES)}, got {cache!r}")
    if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2 \
            or input_ids.is_floating_point():
        raise UsageError("input_ids must be a 2-D tensor of token ids [batch, prompt tokens], "
                         "e.g. torch.zeros(1, 128, dtype=torch.long)")
    if max_new_tokens < 2:
        raise UsageError(f"max_new_tokens must be at least 2 (the first new token comes from "
                         f"the prefill, the rest from decode steps), got {max_new_tokens}")


def profile_generation(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    *,
    cache: str = "dynamic",
    convention: str | Convention = DEFAULT_CONVENTION,
    logits_to_keep: int = 0,
    strict: bool = False,
    name: str | None = None,
) -> GenerationProfile:
    """Serving cost of generating ``max_new_tokens`` tokens after the prompt ``input_ids``.

    Args:
        model: a transformers causal LM, best built on ``meta`` (no weights, shape-only).
        input_ids: the prompt, ``[batch, prompt tokens]`` (values do not matter on ``meta``).
        max_new_tokens: tokens to generate: the prefill yields the first, then
            ``max_new_tokens − 1`` decode steps.
        cache: ``"dynamic"`` (``DynamicCache``: keys grow with the context, sliding-window
            layers keep their window) or ``"static"`` (``StaticCache`` of prompt + new tokens:
            every step attends to the whole preallocated buffer).
        convention: how FLOPs are counted (``matmul`` is the planner's).
        logits_to_keep: passed to the prefill's forward; 0 computes the logits of every prompt
            token (the model's default), 1 only the last one's (what ``generate()`` asks for).
        strict: raise :class:`~flopwise.UnsupportedOpsError` if a traced op has no formula.
        name: the label of the model in the report.

    Returns:
        A :class:`GenerationProfile`: ``.prefill`` and ``.decode`` (exact formulas in the
        context), and ``.report``, the prefill's profile with the section attached.
    """
    _check(input_ids, max_new_tokens, cache)
    chosen = get_convention(convention)
    prompt = int(input_ids.shape[1])
    new_cache = _cache_factory(model, cache, prompt + max_new_tokens)
    tracer = _Tracer(model, new_cache, _cache_keyword(model), input_ids, chosen, strict, name)
    extra = {"logits_to_keep": logits_to_keep} if logits_to_keep else {}
    with torch.no_grad():
        prefill_cache = new_cache()
        report = tracer.forward(input_ids, prefill_cache, **extra)
        kv_per_token = sum(_token_bytes(layer) for layer in prefill_cache.layers)
        kv_written = _kv_written(prefill_cache, prompt)
        ranges = _pieces(prompt + 1, prompt + max_new_tokens - 1, _windows(prefill_cache, cache))
        unsupported: dict[str, int] = {}
        # the first decode step follows on from the prefill: it extends the prefill's cache
        pieces = tuple(_decode_piece(tracer, first, last, unsupported,
                                     *((prefill_cache, prompt) if index == 0 else ()))
                       for index, (first, last) in enumerate(ranges))
    weights = sum(report.param_bytes.values())
    section = ServingSection(
        model=report.run.model, cache=cache, convention=chosen.name,
        batch=int(input_ids.shape[0]), prompt_tokens=prompt, new_tokens=max_new_tokens,
        dtype=max(report.param_bytes, key=lambda dtype: report.param_bytes[dtype]),
        weights_bytes=weights,
        kv_bytes_per_token=kv_per_token,
        prefill=PhaseCost(report.total.flops, report.total.macs, weights, kv_written),
        decode=pieces, unsupported=dict(sorted(unsupported.items())),
    )
    return GenerationProfile(section, report.with_section(section))
