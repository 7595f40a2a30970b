"""flopwise: what does this model cost?

Exact parameters, MACs and FLOPs (under a named convention), bytes moved, memory and time for
any PyTorch model, per layer, for inference and training; and an analytical planner for
transformer training and serving.

>>> import torch, flopwise
>>> report = flopwise.profile(torch.nn.Linear(4, 3), torch.randn(2, 4))
>>> report.total.macs            # 2 rows x 4 inputs x 3 outputs
24

Names are loaded lazily so that ``import flopwise`` (and the LLM planner) never imports torch.
"""

from __future__ import annotations

from typing import Any

from flopwise._lazy import lazy_attribute
from flopwise._version import __version__
from flopwise.errors import (
    ConfigError,
    FlopwiseError,
    MissingExtraError,
    ModelLoadError,
    ModelRunError,
    NotPolynomialError,
    UnsupportedOpsError,
    UsageError,
)

# public name -> module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    "profile": "flopwise.api",
    "Report": "flopwise.report",
    "CONVENTIONS": "flopwise.conventions",
    "Convention": "flopwise.conventions",
    "FormulaRegistry": "flopwise.formulas.registry",
    "default_registry": "flopwise.formulas",
    "plan_llm": "flopwise.llm",
    "TransformerSpec": "flopwise.llm",
    "profile_onnx": "flopwise.onnx",
    "profile_keras": "flopwise.keras",
    "profile_generation": "flopwise.serving.trace",
    "profile_generate": "flopwise.serving.generate",
    "scaling": "flopwise.symbolic",
    "Scaling": "flopwise.symbolic",
    "Throughput": "flopwise.throughput",
}

__all__ = [
    "__version__",
    "FlopwiseError",
    "UsageError",
    "ModelLoadError",
    "ModelRunError",
    "NotPolynomialError",
    "MissingExtraError",
    "UnsupportedOpsError",
    "ConfigError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    return lazy_attribute(__name__, _LAZY, globals(), name)


def __dir__() -> list[str]:
    return sorted(__all__)
