"""``timm:NAME``: ``timm.create_model(NAME, pretrained=False)``; the default input is
``[1, *pretrained_cfg["input_size"]]``."""

from __future__ import annotations

from typing import Any

from flopwise.errors import MissingExtraError, ModelLoadError
from flopwise.models.loaded import LoadedModel
from flopwise.models.specs import close_names

__all__ = ["load"]


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
