"""Which form of a re-parameterizable timm model is counted: as built, or fused for inference.

RepVGG, MobileOne, FastViT, RepGhost, RepViT, LeViT and their kin train with parallel branches
(a k×k convolution, a 1×1 convolution and an identity, each with its batch norm) that are
folded into one convolution for inference. ``timm.create_model`` builds the training-time
form; timm's own ``timm.utils.model.reparameterize_model`` turns it into the deployed one. By
default flopwise counts the model as built; ``--reparameterize`` (or :func:`reparameterized`)
counts the fused form, always on a copy.

>>> import torch
>>> reparameterizable(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8)))
False
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from flopwise.errors import MissingExtraError, UsageError

if TYPE_CHECKING:
    import torch

    from flopwise.models import LoadedModel

__all__ = ["FUSING_METHODS", "reparameterizable", "reparameterized", "check_reparameterize",
           "counted_form"]

# the methods timm's reparameterize_model calls on a submodule that has one
FUSING_METHODS = ("fuse", "reparameterize", "switch_to_deploy")


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
    if spec.partition(":")[0].lower() != "timm":
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
