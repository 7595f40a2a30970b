"""``torchvision:NAME``: a torchvision model without weights, shaped as its DEFAULT weights.

The default input is the evaluation crop of the model's DEFAULT weights (read from the weights
enum's metadata, nothing is downloaded): ``[1, 3, crop, crop]`` for classification,
``[1, 3, 16, crop_h, crop_w]`` for video (16 frames, or the weights' minimum clip length if
larger), ``[1, 3, size, size]`` at the resize size for segmentation. Detection and optical
flow models need ``--input``; detection models get each input as a one-image list.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from flopwise.errors import MissingExtraError, ModelLoadError
from flopwise.models.loaded import LoadedModel
from flopwise.models.specs import close_names

if TYPE_CHECKING:
    import torch

__all__ = ["load", "build_torchvision", "torchvision_weights_kwargs", "VIDEO_FRAMES"]

VIDEO_FRAMES = 16


def load(spec: str, name: str) -> LoadedModel:
    try:
        from torchvision import models
    except ImportError:
        raise MissingExtraError("torchvision", "vision", f"{spec!r}") from None
    known = models.list_models()
    if name not in known:
        raise ModelLoadError(f"unknown torchvision model {name!r}{close_names(name, known)}; "
                             "torchvision.models.list_models() lists them all")
    model = build_torchvision(name)
    detection = name in models.list_models(module=models.detection)
    shapes, note = _torchvision_default(models, name)
    return LoadedModel(spec, "torchvision", model, shapes, note, list_inputs=detection)


def torchvision_weights_kwargs(name: str, weights: Any) -> dict[str, Any]:
    """The builder arguments torchvision sets when it loads ``weights`` into model ``name``.

    Building with ``weights=None`` and these gives the architecture the weights describe (and
    their published ``num_params``): the class count, ViT's image size, GoogLeNet without its
    auxiliary heads (the published weights drop them).

    >>> from torchvision.models import ViT_H_14_Weights
    >>> torchvision_weights_kwargs("vit_h_14", ViT_H_14_Weights.DEFAULT)
    {'num_classes': 1000, 'image_size': 518}
    """
    kwargs: dict[str, Any] = {}
    if weights.meta.get("categories"):
        kwargs["num_classes"] = len(weights.meta["categories"])
    if name.startswith("vit_"):
        kwargs["image_size"] = weights.meta["min_size"][0]
    if name.endswith("googlenet"):
        kwargs["aux_logits"] = False
    if name.endswith(("googlenet", "inception_v3")):
        kwargs["init_weights"] = False    # their init is slow (scipy) and irrelevant here
    return kwargs


def build_torchvision(name: str, weights: Any = None) -> torch.nn.Module:
    """torchvision model ``name`` without weights, shaped as ``weights`` (default: its DEFAULT
    weights) describe, on the default device (``with torch.device("meta"): ...``).

    Nothing is downloaded (no weights, no backbone weights). RegNet builders compute block
    widths with tensor ops, which meta tensors cannot do: on ``meta`` such a model is built on
    the CPU and moved.
    """
    import torch
    from torchvision import models

    if weights is None:
        weights = models.get_model_weights(name).DEFAULT
    options: dict[str, Any] = {"weights": None, **torchvision_weights_kwargs(name, weights)}
    if "weights_backbone" in inspect.signature(models.get_model_builder(name)).parameters:
        options["weights_backbone"] = None    # detection/segmentation: no backbone download
    try:
        return models.get_model(name, **options)
    except NotImplementedError:
        device = torch.get_default_device()
        if device.type != "meta":
            raise
        with torch.device("cpu"):
            model = models.get_model(name, **options)
        return model.to(device)


def _torchvision_default(models: Any, name: str) -> tuple[tuple[tuple[int, ...], ...], str]:
    """The input the DEFAULT weights evaluate at (no download: enum metadata only)."""
    weights = models.get_model_weights(name).DEFAULT
    transform = weights.transforms()
    crop = getattr(transform, "crop_size", None)
    where = f"{type(weights).__name__}.{weights.name}"
    if crop:
        height, width = (crop[0], crop[0]) if len(crop) == 1 else (crop[0], crop[1])
        if type(transform).__name__ == "VideoClassification":
            frames = max(VIDEO_FRAMES, weights.meta.get("min_temporal_size", 0))
            return ((1, 3, frames, height, width),), f"{frames} frames at the eval crop of {where}"
        return ((1, 3, height, width),), f"the eval crop of {where}"
    resize = getattr(transform, "resize_size", None)
    if type(transform).__name__ == "SemanticSegmentation" and resize:
        return ((1, 3, resize[0], resize[0]),), f"the eval resize of {where}"
    return (), ""
