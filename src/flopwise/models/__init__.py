"""Model specs: turn ``torchvision:resnet50``, ``hf:gpt2``, ``model.onnx`` or
``my_models.py:build`` into a model and the inputs to profile it with.

This is what ``flopwise profile MODEL`` and ``flopwise compare`` resolve their arguments with;
it returns values and raises flopwise errors, and never prints. One module per source
(:mod:`~flopwise.models.torchvision`, :mod:`~flopwise.models.timm`, :mod:`~flopwise.models.hf`,
:mod:`~flopwise.models.keras`, :mod:`~flopwise.models.onnx`, :mod:`~flopwise.models.factory`)
behind a registry (:mod:`~flopwise.models.registry`: prefix or file suffix → source); parsing
in :mod:`~flopwise.models.specs`, inputs in :mod:`~flopwise.models.inputs`, failures and the
automatic CPU / half-precision retries in :mod:`~flopwise.models.failures` and
:mod:`~flopwise.models.fallback`. Models are built inside ``with torch.device(device):`` so on
``meta`` no weights are allocated. Importing this package imports no torch.

>>> parse_shape("1,3,224,224")
(1, 3, 224, 224)
>>> find_source("torchvision:resnet50").name
'torchvision'
"""

from __future__ import annotations

from typing import Any

from flopwise.models.failures import CallTrace, describe_failure
from flopwise.models.inputs import input_notes, make_inputs
from flopwise.models.loaded import LoadedModel
from flopwise.models.registry import SOURCES, Source, find_source, load_model, source_and_rest
from flopwise.models.specs import (
    DEVICES,
    DTYPES,
    TensorRequest,
    check_device,
    parse_dtype,
    parse_kwarg,
    parse_shape,
)

__all__ = [
    "TensorRequest",
    "LoadedModel",
    "CallTrace",
    "Source",
    "SOURCES",
    "DTYPES",
    "DEVICES",
    "parse_shape",
    "parse_dtype",
    "parse_kwarg",
    "check_device",
    "find_source",
    "source_and_rest",
    "load_model",
    "make_inputs",
    "input_notes",
    "describe_failure",
    "build_torchvision",
    "torchvision_weights_kwargs",
]


def __getattr__(name: str) -> Any:
    # the torchvision helpers live in their source module (imported on first use)
    if name in ("build_torchvision", "torchvision_weights_kwargs"):
        from flopwise.models import torchvision

        return getattr(torchvision, name)
    raise AttributeError(f"module 'flopwise.models' has no attribute {name!r}")
