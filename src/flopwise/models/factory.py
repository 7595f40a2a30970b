"""``path/to/file.py:factory`` or ``package.module:factory``: a user's own model factory.

``factory()`` is called with no arguments and returns an ``nn.Module``, or ``(model, args)`` or
``(model, args, kwargs)`` with example inputs (a tensor or a tuple of positional inputs, and a
dict of keyword inputs) used when no ``--input`` is given. The file's folder (or the current
directory, for a module name) is on ``sys.path`` while it is imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flopwise.errors import ModelLoadError, UsageError
from flopwise.models.loaded import LoadedModel
from flopwise.models.specs import close_names

__all__ = ["load"]


@contextmanager
def _on_path(folder: str) -> Iterator[None]:
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        sys.path.remove(folder)


def _import_factory_module(spec: str, location: str) -> Any:
    if location.endswith(".py") or os.sep in location or "/" in location:
        path = Path(location).expanduser().resolve()
        if not path.is_file():
            raise ModelLoadError(f"{spec!r}: no such file {location!r}")
        name = "flopwise_user_" + re.sub(r"\W", "_", path.stem)
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ModelLoadError(f"{spec!r}: cannot import {location!r} as a Python file")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        with _on_path(str(path.parent)):
            module_spec.loader.exec_module(module)
        return module
    with _on_path(os.getcwd()):
        try:
            return importlib.import_module(location)
        except ModuleNotFoundError as error:
            if error.name and location.startswith(error.name):
                raise ModelLoadError(f"{spec!r}: no module named {error.name!r}; give a "
                                     "path/to/file.py:factory or an importable module") from None
            raise


def load(spec: str, rest: str = "") -> LoadedModel:
    import torch

    location, sep, attribute = spec.rpartition(":")
    if not sep or not location or not attribute:
        hint = ""
        try:
            from torchvision import models

            if spec in models.list_models():
                hint = f"; did you mean torchvision:{spec}?"
        except ImportError:
            pass
        raise UsageError(f"model spec {spec!r} is not one of torchvision:NAME, timm:NAME, "
                         f"hf:CONFIG, keras:PATH.keras, path/to/file.py:factory, "
                         f"package.module:factory, or a .onnx file{hint}")
    module = _import_factory_module(spec, location)
    factory = getattr(module, attribute, None)
    if not callable(factory):
        names = [n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))]
        raise ModelLoadError(f"{spec!r}: {location} has no callable {attribute!r}"
                             f"{close_names(attribute, names)}")
    result = factory()
    model, args, kwargs = result, None, {}
    if isinstance(result, tuple) and result and isinstance(result[0], torch.nn.Module):
        if len(result) not in (2, 3) or (len(result) == 3 and not isinstance(result[2], Mapping)):
            raise ModelLoadError(f"{spec!r}: the factory returned a tuple of {len(result)}; "
                                 "return a model, (model, args) or (model, args, kwargs)")
        model, args = result[0], result[1]
        kwargs = dict(result[2]) if len(result) == 3 else {}
        args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    if not isinstance(model, torch.nn.Module):
        raise ModelLoadError(f"{spec!r}: the factory returned {type(result).__name__}, not an "
                             "nn.Module (or a (model, args[, kwargs]) tuple)")
    return LoadedModel(spec, "factory", model, example_args=args, example_kwargs=kwargs)
