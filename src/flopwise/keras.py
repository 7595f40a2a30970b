"""Keras 3 models on the torch backend, counted by the same engine as any PyTorch model.

With ``KERAS_BACKEND=torch`` every Keras layer is a ``torch.nn.Module`` and runs through
``torch.nn.Module.__call__``, so the dispatch mode sees every aten op a layer runs. What torch
cannot see is Keras' own structure: a functional model keeps its layers in a list, so they are not
torch submodules. :func:`keras_structure` walks the Keras layers instead, naming each module by
its Keras ``layer.name`` path (``"mha.query"``), and gives each layer the variables that are its
own. ``flopwise.profile(keras_model, x)`` uses it automatically; :func:`profile_keras` is the same
call with Keras-style inputs.

Parameters follow Keras: every weight (trainable and non-trainable, e.g. BatchNormalization's
moving statistics) counts, as in ``model.count_params()``; the random-seed state of dropout
layers is a variable but not a weight, and is not counted.

>>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")
'torch'
>>> import keras, torch
>>> from flopwise.keras import profile_keras
>>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="fc")])
>>> report = profile_keras(model, torch.ones(2, 8))
>>> report.module("fc").macs, report.total.params == model.count_params()   # 2·8·4
(64, True)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from flopwise.errors import MissingExtraError, ModelLoadError, UsageError
from flopwise.report import Report
from flopwise.tree import ModuleNode

__all__ = [
    "profile_keras",
    "load_keras_model",
    "keras_structure",
    "is_keras_model",
    "keras_input_shapes",
    "example_inputs",
    "require_torch_backend",
]

_TORCH_PARAMS = "_torch_params"  # the ParameterDict Keras' torch backend keeps on every layer


def _keras() -> Any:
    try:
        import keras
    except ImportError as error:
        raise MissingExtraError("keras", "keras", "profiling Keras models") from error
    return keras


def require_torch_backend() -> Any:
    """Import keras and check that its backend is torch; return the ``keras`` module.

    Raises:
        MissingExtraError: keras is not installed.
        UsageError: another backend is active (it is fixed when keras is first imported).
    """
    keras = _keras()
    backend = keras.backend.backend()
    if backend != "torch":
        raise UsageError(
            f"Keras is using the {backend!r} backend, but flopwise counts Keras models through "
            "PyTorch; set the environment variable KERAS_BACKEND=torch before keras is imported "
            "(e.g. `KERAS_BACKEND=torch flopwise profile keras:model.keras`)"
        )
    return keras


def is_keras_model(model: Any) -> bool:
    """True when ``model`` is a Keras layer or model (checked without importing keras)."""
    keras = sys.modules.get("keras")
    layer_type = getattr(keras, "Layer", None) if keras is not None else None
    return layer_type is not None and isinstance(model, layer_type)


def load_keras_model(path: str | os.PathLike[str], *, select_torch_backend: bool = False) -> Any:
    """Load a saved Keras model (``.keras`` archive or legacy ``.h5``) on the torch backend.

    ``compile=False``: optimizer and loss are not needed to count the model.
    ``select_torch_backend=True`` (for command-line tools) sets ``KERAS_BACKEND=torch`` in the
    process environment when keras is not imported yet and no backend was chosen; a backend
    chosen explicitly is never overridden.

    Raises:
        UsageError: the backend is not torch (set ``KERAS_BACKEND=torch`` first).
        ModelLoadError: the file is missing or Keras cannot read it.
    """
    if select_torch_backend and "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = require_torch_backend()
    file = Path(path)
    if not file.is_file():
        raise ModelLoadError(f"cannot load Keras model {str(file)!r}: no such file; check the path")
    try:
        return keras.saving.load_model(file, compile=False)
    except Exception as error:  # Keras raises ValueError, OSError, TypeError... for bad files
        raise ModelLoadError(
            f"cannot load Keras model {str(file)!r}: {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else 'unreadable file'}; save it with "
            "model.save('model.keras') under Keras 3"
        ) from error


def keras_input_shapes(model: Any) -> list[tuple[int | None, ...]]:
    """The declared input shapes of a built Keras model (``None`` for free dims, e.g. batch).

    >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")
    'torch'
    >>> import keras
    >>> keras_input_shapes(keras.Sequential([keras.Input((8, 3)), keras.layers.Dense(2)]))
    [(None, 8, 3)]
    """
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise UsageError(
            f"the Keras model {getattr(model, 'name', type(model).__name__)!r} has no declared "
            "inputs (a subclassed model that was never built); build it with "
            "keras.Input(...) or pass example inputs explicitly"
        )
    return [tuple(None if d is None else int(d) for d in tensor.shape) for tensor in inputs]


def example_inputs(model: Any, batch: int = 1, shapes: list[tuple[int, ...]] | None = None,
                   device: str | torch.device = "cpu") -> torch.Tensor | list[torch.Tensor]:
    """Zero tensors for a Keras model's inputs: free dims become ``batch`` (first) or an error.

    ``shapes`` overrides the declared shapes (one per input). One input gives one tensor, several
    a list, as Keras' ``model(...)`` expects.
    """
    declared = shapes if shapes is not None else keras_input_shapes(model)
    dtypes = [str(getattr(t, "dtype", "float32")) for t in getattr(model, "inputs", None) or []]
    tensors = []
    for index, shape in enumerate(declared):
        concrete = []
        for axis, size in enumerate(shape):
            if size is None and axis == 0:
                size = batch
            if size is None:
                raise UsageError(
                    f"input {index} of the Keras model has a free dimension at axis {axis} "
                    f"(shape {tuple(shape)}); give the full shape with --input NAME=SHAPE"
                )
            concrete.append(int(size))
        dtype = getattr(torch, dtypes[index] if index < len(dtypes) else "float32", None)
        if not isinstance(dtype, torch.dtype):
            dtype = torch.float32
        tensors.append(torch.zeros(concrete, dtype=dtype, device=device))
    return tensors[0] if len(tensors) == 1 else tensors


def _sublayers(layer: Any) -> list[Any]:
    """A layer's Keras sublayers as they appear in the tree.

    InputLayers do no work and are left out. The cell of a recurrent layer is run through
    ``cell.call`` inside the layer's loop, never through ``__call__``, so it is folded into its
    layer (which then owns the cell's weights) instead of showing as an uncalled module.
    """
    keras = sys.modules["keras"]
    if isinstance(layer, keras.layers.RNN):
        return []
    return [sub for sub in layer._flatten_layers(include_self=False, recursive=False)
            if not isinstance(sub, keras.layers.InputLayer)]


def _clean(name: str) -> str:
    """A Keras name as one path component (dots would read as nesting)."""
    return name.replace(".", "_").replace("/", "_")


def _walk(model: Any) -> Iterator[tuple[str, torch.nn.Module]]:
    """(name, module) pairs: Keras layers by ``layer.name`` path, plus wrapped torch modules."""
    keras = sys.modules["keras"]
    seen: set[int] = set()
    stack: list[tuple[str, torch.nn.Module]] = [("", model)]
    while stack:
        name, module = stack.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        yield name, module
        prefix = f"{name}." if name else ""
        children: list[tuple[str, torch.nn.Module]] = []
        if isinstance(module, keras.Layer):
            children = [(prefix + _clean(layer.name), layer) for layer in _sublayers(module)]
            children += [(prefix + child_name, child)
                         for child_name, child in module.named_children()
                         if child_name != _TORCH_PARAMS and not isinstance(child, keras.Layer)]
        else:
            children = [(prefix + child_name, child)
                        for child_name, child in module.named_children()]
        stack.extend(reversed(children))


def keras_structure(model: Any) -> tuple[dict[int, str], list[ModuleNode]]:
    """Module names (by ``id``) and tree nodes with each layer's own weights, Keras-style.

    A layer's own weights are those no sublayer holds; a weight shared by several layers counts
    once, at its first owner in layer order. Torch modules wrapped in a Keras layer
    (``TorchModuleWrapper``) appear under their torch attribute names.
    """
    keras = require_torch_backend()
    modules = list(_walk(model))
    owned: dict[int, set[int]] = {}
    for _name, module in modules:
        if isinstance(module, keras.Layer):
            owned[id(module)] = {id(v) for v in module.weights}
    seen: set[int] = set()
    nodes = []
    for name, module in modules:
        node = ModuleNode(name, type(module).__name__)
        for value, trainable in _own_tensors(module, keras, owned):
            if id(value) in seen:
                continue
            seen.add(id(value))
            node.own_params += value.numel()
            node.own_trainable += value.numel() if trainable else 0
        nodes.append(node)
    return {id(module): name for name, module in modules}, nodes


def _own_tensors(module: torch.nn.Module, keras: Any,
                 owned: dict[int, set[int]]) -> Iterator[tuple[torch.Tensor, bool]]:
    if not isinstance(module, keras.Layer):
        for param in module.parameters(recurse=False):
            yield param, param.requires_grad
        return
    inner = set()
    for layer in _sublayers(module):
        inner |= owned.get(id(layer), {id(v) for v in layer.weights})
    for variable in module.weights:
        if id(variable) not in inner:
            yield variable.value, bool(variable.trainable)


def profile_keras(model: Any, x: Any, **profile_kwargs: Any) -> Report:
    """Profile a Keras 3 model (torch backend) called as ``model(x)``.

    ``x`` is what Keras' ``model(...)`` takes: a tensor (or NumPy array), a list for several
    inputs, or a dict by input name. Keyword arguments go to :func:`flopwise.profile`
    (``convention=``, ``fake=``, ``strict=``, ``backward=``...).

    >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")
    'torch'
    >>> import keras, torch
    >>> model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(2, 3, name="c")])
    >>> profile_keras(model, torch.ones(1, 4, 4, 3)).module("c").macs   # 1·2·(2·2)·3·3·3
    216
    """
    require_torch_backend()
    if not is_keras_model(model):
        raise UsageError(
            f"profile_keras() needs a Keras model or layer, got {type(model).__name__}; use "
            "flopwise.profile for PyTorch modules"
        )
    from flopwise.api import profile

    return profile(model, (_to_torch(x),), **profile_kwargs)


def _to_torch(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, dict):
        return {key: _to_torch(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_torch(item) for item in value)
    if hasattr(value, "__array__"):
        return torch.as_tensor(value)
    return value
