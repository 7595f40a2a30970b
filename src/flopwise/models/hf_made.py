"""What the transformers input rules share: the made inputs, defaults and config readers.

:mod:`~flopwise.models.hf_inputs` and the family rules (:mod:`~flopwise.models.hf_audio`,
:mod:`~flopwise.models.hf_multimodal`) import these from here, so neither imports the other.

>>> sub_config(type("C", (), {"vision_config": None})(), "vision_config").__class__.__name__
'C'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flopwise.models.specs import TensorRequest

__all__ = ["MadeInputs", "DEFAULT_TOKENS", "DEFAULT_IMAGE", "sub_config", "splices"]

DEFAULT_TOKENS = 128
DEFAULT_IMAGE = 224


@dataclass
class MadeInputs:
    """The main (positional) input, keyword inputs beside it, and why each was made."""

    main: str
    shapes: tuple[tuple[int, ...], ...] = ()
    note: str = ""
    kwargs: dict[str, TensorRequest] = field(default_factory=dict)
    follow: dict[str, tuple[int, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    vocab_size: int | None = None              # bounds the main token ids, if not the config's


def sub_config(config: Any, *names: str) -> Any:
    for name in names:
        sub = getattr(config, name, None)
        if sub is not None and not isinstance(sub, (dict, int, str)):
            return sub
    return config


def splices(config: Any, *kinds: str) -> bool:
    """Whether features of ``kinds`` replace placeholder tokens (text must hold those tokens)."""
    return any(kind in key and "token" in key for key in config.to_dict() for kind in kinds)
