"""Model sources: which spec prefix or file suffix names which loader.

A source is a prefix (``torchvision:``, ``timm:``, ``hf:``, ``keras:``) or a file suffix
(``.onnx``) and the module whose ``load(spec, rest)`` builds it. Graph sources (ONNX) are
counted without torch: their module's ``count(path, shapes, convention, strict)`` returns the
report directly. A spec that matches nothing is a user's factory (``file.py:fn``,
``package.module:fn``). Modules are imported only when their source is used.

>>> find_source("hf:gpt2").name, find_source("resnet.onnx").name, find_source("m.py:f").name
('hf', 'onnx', 'factory')
>>> source_and_rest("timm:resnet50")
(Source(name='timm', module='flopwise.models.timm', prefix='timm', suffixes=(), graph=False), 'resnet50')
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from flopwise.errors import UsageError
from flopwise.models.specs import check_device, parse_dtype

if TYPE_CHECKING:
    from flopwise.models.loaded import LoadedModel

__all__ = ["Source", "SOURCES", "FACTORY", "find_source", "source_and_rest", "load_model"]


@dataclass(frozen=True)
class Source:
    """Where models of one kind come from, and how the spec names them."""

    name: str
    module: str                                   # defines load(spec, rest) or count(...)
    prefix: str | None = None                     # spec "PREFIX:rest"
    suffixes: tuple[str, ...] = ()                # or a file ending in one of these
    graph: bool = False                           # counted without torch (no nn.Module)

    def implementation(self) -> ModuleType:
        """The module that builds (or counts) models of this source."""
        return importlib.import_module(self.module)


SOURCES: tuple[Source, ...] = (
    Source("torchvision", "flopwise.models.torchvision", prefix="torchvision"),
    Source("timm", "flopwise.models.timm", prefix="timm"),
    Source("hf", "flopwise.models.hf", prefix="hf"),
    Source("keras", "flopwise.models.keras", prefix="keras"),
    Source("onnx", "flopwise.models.onnx", suffixes=(".onnx",), graph=True),
)
FACTORY = Source("factory", "flopwise.models.factory")


def source_and_rest(spec: str) -> tuple[Source, str]:
    """The source a spec names and what follows its prefix (the whole spec otherwise)."""
    prefix, sep, rest = spec.partition(":")
    for source in SOURCES:
        if sep and source.prefix == prefix.lower():
            if not rest:
                raise UsageError(f"model spec {spec!r} names no model after '{prefix}:'")
            return source, rest
        if source.suffixes and spec.lower().endswith(source.suffixes):
            return source, spec
    return FACTORY, spec


def find_source(spec: str) -> Source:
    """The source a spec names (the factory source when no prefix or suffix matches)."""
    return source_and_rest(spec)[0]


def load_model(spec: str, device: str = "meta", train: bool = False,
               dtype: str | None = None) -> LoadedModel:
    """Build the model named by ``spec`` on ``device``, in eval mode unless ``train``.

    ``dtype`` casts its floating parameters and buffers (e.g. ``bfloat16``). Spec errors
    (unknown names, missing files, a missing extra) raise flopwise errors; exceptions raised
    by the model's own construction code propagate unchanged. Graph sources (``.onnx``) have no
    torch model: :class:`~flopwise.UsageError` says to count them with ``profile_onnx``.
    """
    import torch

    check_device(device)
    source, rest = source_and_rest(spec)
    if source.graph:
        raise UsageError(f"{spec!r} is a {source.name} graph, not a PyTorch model; count it with "
                         f"flopwise.profile_onnx (the CLI does this for you)")
    with torch.device(device):
        loaded: LoadedModel = source.implementation().load(spec, rest)
    loaded.device = device
    if dtype is not None:
        loaded.model.to(getattr(torch, parse_dtype(dtype)))
    loaded.model.train(train)
    return loaded
