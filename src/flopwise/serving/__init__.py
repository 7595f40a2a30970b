"""Serving cost traced from the model: prefill and decode with its own KV cache.

:func:`profile_generation` traces a prompt's forward pass and a few decode steps with a
transformers ``DynamicCache`` or ``StaticCache`` (on ``meta`` by default) and derives the exact
per-token decode cost as a polynomial in the context; :func:`serving_times` puts it on an
accelerator's roofline (time to first token, time per output token, tokens/s, the batch where
decode turns compute-bound); :func:`profile_generate` splits a real ``generate()`` call into
its steps. See docs/serving.md.

The section records and the timing are plain arithmetic; the tracing functions import torch
when first used.
"""

from __future__ import annotations

from typing import Any

from flopwise._lazy import lazy_attribute
from flopwise.serving.polynomial import Polynomial, fit
from flopwise.serving.section import (
    DecodePiece,
    Hardware,
    PhaseCost,
    ServingSection,
    ServingTime,
)
from flopwise.serving.timing import serving_times

_LAZY: dict[str, str] = {
    "CACHES": "flopwise.serving.trace",
    "GenerationProfile": "flopwise.serving.trace",
    "profile_generation": "flopwise.serving.trace",
    "GenerateStep": "flopwise.serving.generate",
    "GenerateTrace": "flopwise.serving.generate",
    "profile_generate": "flopwise.serving.generate",
}

__all__ = [
    "DecodePiece",
    "Hardware",
    "PhaseCost",
    "Polynomial",
    "ServingSection",
    "ServingTime",
    "fit",
    "serving_times",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    return lazy_attribute(__name__, _LAZY, globals(), name)
