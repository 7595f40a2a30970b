"""``timm:NAME``: ``timm.create_model(NAME, pretrained=False)``; the default input is
``[1, *pretrained_cfg["input_size"]]``.

Re-parameterizable models (RepVGG, MobileOne, FastViT, RepGhost, RepViT, LeViT and their kin)
train with parallel branches (a k×k convolution, a 1×1 convolution and an identity, each with
its batch norm) or unfused batch norms that are folded away for inference.
``timm.create_model`` builds the training-time form; timm's own
``timm.utils.model.reparameterize_model`` turns it into the deployed one. flopwise counts the
model as built unless asked for the fused form (``--reparameterize``, :func:`counted_form`,
:func:`reparameterized`), which it always makes from a copy.

>>> import torch
>>> reparameterizable(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8)))
False
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from flopwise.errors import MissingExtraError, ModelLoadError, UsageError
from flopwise.models.loaded import LoadedModel
from flopwise.models.specs import close_names

if TYPE_CHECKING:
    import torch

__all__ = ["load", "FUSING_METHODS", "reparameterizable", "reparameterized",
           "check_reparameterize", "counted_form"]

# the methods timm's reparameterize_model calls on a submodule that has one
FUSING_METHODS = ("fuse", "reparameterize", "switch_to_deploy")


def load(spec: str, name: str) -> LoadedModel:
    try:
        import timm
    except ImportError:
        raise MissingExtraError("timm", "timm", f"{spec!r}") from None
    known = timm.list_models()
    if name not in known:
        raise ModelLoadError(f"unknown timm model {name!r}{close_names(name, known)}")
    model = timm.create_model(name, pretrained=False)
    pretrained_cfg: dict[str, Any] = getattr(model, "pretrained_cfg", None) or {}
    size = tuple(pretrained_cfg.get("input_size", ()))
    shapes = ((1, *size),) if size else ()
    return LoadedModel(spec, "timm", model, shapes, "the model's pretrained_cfg input_size")


def reparameterizable(model: torch.nn.Module) -> bool:
    """Whether timm's ``reparameterize_model`` would change ``model``: some submodule (not the
    model itself, which timm does not visit) has one of :data:`FUSING_METHODS`."""
    return any(hasattr(module, method) for name, module in model.named_modules() if name
               for method in FUSING_METHODS)


def reparameterized(model: torch.nn.Module) -> torch.nn.Module:
    """A fused copy of ``model`` by ``timm.utils.model.reparameterize_model``; ``model`` itself
    is left as it is (also the global random state, which new layers' initialisation draws
    from). The new layers are made on the model's device, so a meta model stays on meta."""
    import torch

    try:
        from timm.utils.model import reparameterize_model
    except ImportError:
        raise MissingExtraError("timm", "timm", "re-parameterizing a model") from None
    tensor = next(model.parameters(), None)
    device = tensor.device if tensor is not None else torch.get_default_device()
    with torch.random.fork_rng(devices=[]), torch.device(device):
        return reparameterize_model(model, inplace=False)


def check_reparameterize(spec: str) -> None:
    """``--reparameterize`` takes ``timm:NAME`` models only: the fused form is timm's."""
    from flopwise.models.registry import find_source

    if find_source(spec).name != "timm":
        raise UsageError(f"--reparameterize applies to timm:NAME models (timm's "
                         f"reparameterize_model fuses them), not to {spec!r}")


def counted_form(loaded: LoadedModel, reparameterize: bool) -> tuple[LoadedModel, str]:
    """The model to count and one line saying which form it is ("" when there is no choice:
    not a timm model, or nothing to fuse and none asked for)."""
    if reparameterize:
        check_reparameterize(loaded.spec)
    if loaded.source != "timm":
        return loaded, ""
    if not reparameterizable(loaded.model):
        return loaded, (f"{loaded.spec} has no re-parameterizable block; counted as built"
                        if reparameterize else "")
    if not reparameterize:
        return loaded, (f"{loaded.spec} counted as timm builds it, in its training-time form "
                        "(branches and batch norms unfused); --reparameterize counts the fused "
                        "inference form")
    fused = reparameterized(loaded.model)
    return dataclasses.replace(loaded, model=fused), (
        f"{loaded.spec} counted in its fused inference form (timm's reparameterize_model)")
