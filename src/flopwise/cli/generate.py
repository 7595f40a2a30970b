"""``flopwise profile ... --generate prompt=N,new=M [--batch 1,8,64]``: serving cost.

The prompt's forward pass and the decode steps are traced with the model's own KV cache
(:func:`flopwise.serving.profile_generation`); with ``--hardware``, the roofline times for
each ``--batch`` (:func:`flopwise.serving.serving_times`). torch is imported on use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flopwise.errors import UsageError

if TYPE_CHECKING:
    from flopwise.hardware.catalogue import Accelerator
    from flopwise.report import Report

__all__ = ["GENERATE_HELP", "BATCH_HELP", "GenerateRequest", "parse_generate", "parse_batches",
           "profile_serving"]

GENERATE_HELP = (
    "Serving cost of a transformers causal LM: prompt=N,new=M[,cache=dynamic|static] traces the "
    "N-token prefill and the decode steps with the model's own KV cache, and gives the exact "
    "per-token decode cost in the context; with --hardware, time to first token, time per "
    "output token, tokens/s and the batch where decode turns compute-bound."
)
BATCH_HELP = "With --generate: batch sizes to time, e.g. 1,8,64 (default 1)."


@dataclass(frozen=True)
class GenerateRequest:
    """``--generate``: prompt tokens, new tokens, cache class."""

    prompt: int
    new: int
    cache: str = "dynamic"


def parse_generate(text: str) -> GenerateRequest:
    """``prompt=N,new=M[,cache=dynamic|static]``.

    >>> parse_generate("prompt=2048,new=256")
    GenerateRequest(prompt=2048, new=256, cache='dynamic')
    """
    example = "e.g. --generate prompt=2048,new=256 (optionally ,cache=static)"
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in ("prompt", "new", "cache"):
            raise UsageError(f"--generate takes prompt=N,new=M[,cache=dynamic|static], got "
                             f"{text!r}; {example}")
        fields[key.strip()] = value.strip()
    if "prompt" not in fields or "new" not in fields:
        raise UsageError(f"--generate needs both prompt= and new=, got {text!r}; {example}")
    try:
        prompt, new = int(fields["prompt"]), int(fields["new"])
    except ValueError:
        raise UsageError(f"--generate: prompt and new are token counts, got {text!r}; "
                         f"{example}") from None
    if prompt < 1 or new < 2:
        raise UsageError(f"--generate needs prompt ≥ 1 and new ≥ 2 (one decode step at least), "
                         f"got prompt={prompt}, new={new}")
    cache = fields.get("cache", "dynamic")
    if cache not in ("dynamic", "static"):
        raise UsageError(f"--generate cache= is dynamic or static, got {cache!r}")
    return GenerateRequest(prompt, new, cache)


def parse_batches(text: str | None) -> tuple[int, ...]:
    """``--batch 1,8,64`` as ints (each at least 1).

    >>> parse_batches("1,8,64")
    (1, 8, 64)
    """
    if text is None:
        return (1,)
    try:
        batches = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"--batch takes batch sizes separated by commas, e.g. 1,8,64; "
                         f"got {text!r}") from None
    if any(batch < 1 for batch in batches):
        raise UsageError(f"--batch sizes must be at least 1, got {text!r}")
    return batches


def profile_serving(model: Any, request: GenerateRequest, batches: Sequence[int], device: str,
                    convention: str, strict: bool, accelerator: Accelerator | None,
                    name: str) -> Report:
    """The prefill's report with the serving section (timed when ``accelerator`` is given)."""
    import torch

    from flopwise.serving import profile_generation, serving_times

    ids = torch.zeros(1, request.prompt, dtype=torch.long, device=device)
    result = profile_generation(model, ids, request.new, cache=request.cache,
                                convention=convention, strict=strict, name=name)
    if accelerator is None:
        return result.report
    return result.report.with_section(serving_times(result.serving, accelerator, batches))
