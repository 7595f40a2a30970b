"""What a model source hands back: the model and what is known about its inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from flopwise.models.specs import TensorRequest

__all__ = ["LoadedModel"]


@dataclass
class LoadedModel:
    """A model built from a spec, with what is known about its inputs.

    ``default_shapes`` are the positional inputs made when the user gives no ``--input``
    (``default_note`` says where they come from); ``default_kwargs`` are keyword inputs made
    beside them (an hf model's pixel values), and ``follow_kwargs`` keyword inputs shaped as
    the first positional input plus trailing dimensions (decoder tokens ``()``, bounding boxes
    ``(4,)``), each with the reason in ``notes``.
    """

    spec: str
    source: str                                   # a registered source's name
    model: torch.nn.Module
    default_shapes: tuple[tuple[int, ...], ...] = ()
    default_note: str = ""                        # where the default shapes come from
    vocab_size: int | None = None                 # hf: inputs are token ids below this
    list_inputs: bool = False                     # torchvision detection: a list of images
    default_kwargs: dict[str, TensorRequest] = field(default_factory=dict)
    follow_kwargs: dict[str, tuple[int, ...]] = field(default_factory=dict)  # shape: input's + these
    notes: tuple[str, ...] = ()                   # why each default keyword input was made
    token_inputs: bool = True                     # hf: positional inputs are token ids
    replacing_kwargs: tuple[str, ...] = ()        # keyword inputs that replace the default
    example_args: tuple[Any, ...] | None = None   # from a factory's (model, args[, kwargs])
    example_kwargs: dict[str, Any] = field(default_factory=dict)
    declared_dtype: str | None = None             # the floating dtype the model's config declares
    device: str = "meta"                          # where the model was built
