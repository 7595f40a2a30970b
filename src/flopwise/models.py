"""Model specs: turn ``torchvision:resnet50``, ``hf:gpt2`` or ``my_models.py:build`` into a model
and the inputs to profile it with. This is what ``flopwise profile MODEL`` resolves its argument
with; it returns values and raises flopwise errors, and never prints.

Specs:

- ``torchvision:NAME``: :func:`build_torchvision` — ``torchvision.models.get_model(NAME,
  weights=None)`` shaped as its DEFAULT weights describe (:func:`torchvision_weights_kwargs`).
  Without ``--input``
  the default input is the evaluation crop of the model's DEFAULT weights (read from the weights
  enum's metadata, nothing is downloaded): ``[1, 3, crop, crop]`` for classification,
  ``[1, 3, 16, crop_h, crop_w]`` for video (16 frames, or the weights' minimum clip length if
  larger), ``[1, 3, size, size]`` at the resize size for segmentation. Detection and optical
  flow models need ``--input``; detection models get each input as a one-image list.
- ``timm:NAME``: ``timm.create_model(NAME, pretrained=False)`` (needs timm); the default input is
  ``[1, *pretrained_cfg["input_size"]]``.
- ``hf:CONFIG``: a transformers model built from its config, without weights and without network:
  ``CONFIG`` is a local ``config.json`` (or a folder holding one), or a model type such as
  ``gpt2``, ``bert`` or ``llama`` (the config class's defaults). The class is the config's
  ``architectures[0]`` when it names one, else the causal-LM head for decoder-only types, else
  the base model. The default input follows the model's ``main_input_name``: token ids (int64,
  below the vocabulary size) ``[1, 128]``; images (``pixel_values``) ``[1, num_channels,
  image_size, image_size]`` from the config; log-mel features (``input_features``, Whisper)
  ``[1, num_mel_bins, 2·max_source_positions]``; raw audio (``input_values``) ``[1, 16000]``
  (one second at 16 kHz). Encoder-decoder models also get ``decoder_input_ids``: the token
  input's shape, or ``[1, 128]`` after a non-text input (fewer if the decoder has fewer
  positions).
- ``path/to/file.py:factory`` or ``package.module:factory``: ``factory()`` is called with no
  arguments and returns an ``nn.Module``, or ``(model, args)`` or ``(model, args, kwargs)`` with
  example inputs (a tensor or a tuple of positional inputs, and a dict of keyword inputs) used
  when no ``--input`` is given. The file's folder (or the current directory, for a module name)
  is on ``sys.path`` while it is imported.

Models are built inside ``with torch.device(device):`` so on ``meta`` no weights are allocated.

>>> parse_shape("1,3,224,224")
(1, 3, 224, 224)
>>> parse_kwarg("attention_mask=1,16:int64")
('attention_mask', TensorRequest(shape=(1, 16), dtype='int64'))
>>> parse_dtype("bf16")
'bfloat16'
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flopwise.errors import ConfigError, MissingExtraError, ModelLoadError, UsageError

if TYPE_CHECKING:
    import torch

__all__ = [
    "TensorRequest",
    "LoadedModel",
    "CallTrace",
    "DTYPES",
    "DEVICES",
    "HF_DEFAULT_SHAPE",
    "VIDEO_FRAMES",
    "parse_shape",
    "parse_dtype",
    "parse_kwarg",
    "check_device",
    "load_model",
    "make_inputs",
    "describe_failure",
    "build_torchvision",
    "torchvision_weights_kwargs",
]

HF_DEFAULT_SHAPE: tuple[int, ...] = (1, 128)
VIDEO_FRAMES = 16
DEVICES = ("meta", "cpu", "cuda")

# accepted spellings -> torch dtype name
DTYPES: dict[str, str] = {
    "float32": "float32", "float": "float32", "fp32": "float32",
    "float16": "float16", "half": "float16", "fp16": "float16",
    "bfloat16": "bfloat16", "bf16": "bfloat16",
    "float64": "float64", "double": "float64", "fp64": "float64",
    "int64": "int64", "long": "int64",
    "int32": "int32", "int": "int32",
    "int16": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool",
}
_FLOAT_DTYPES = {"float32", "float16", "bfloat16", "float64"}
_SHAPE = re.compile(r"^\s*\d+\s*([,x]\s*\d+\s*)*$")


@dataclass(frozen=True)
class TensorRequest:
    """An input to build: its shape and dtype name (``None``: the model kind's default)."""

    shape: tuple[int, ...]
    dtype: str | None = None


@dataclass
class LoadedModel:
    """A model built from a spec, with what is known about its inputs."""

    spec: str
    source: str                                   # torchvision, timm, hf or factory
    model: torch.nn.Module
    default_shapes: tuple[tuple[int, ...], ...] = ()
    default_note: str = ""                        # where the default shapes come from
    vocab_size: int | None = None                 # hf: inputs are token ids below this
    list_inputs: bool = False                     # torchvision detection: a list of images
    mirrored_kwargs: tuple[str, ...] = ()         # hf encoder-decoder: decoder_input_ids
    mirrored_shape: tuple[int, ...] | None = None  # their shape, when not the first input's
    token_inputs: bool = True                     # hf: positional inputs are token ids
    replacing_kwargs: tuple[str, ...] = ()        # keyword inputs that replace the default
    example_args: tuple[Any, ...] | None = None   # from a factory's (model, args[, kwargs])
    example_kwargs: dict[str, Any] = field(default_factory=dict)


# -- parsing -----------------------------------------------------------------------------------
def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,3,224,224"`` (or ``"1x3x224x224"``) → ``(1, 3, 224, 224)``; positive ints only."""
    if not _SHAPE.match(text):
        raise UsageError(
            f"malformed shape {text!r}: expected positive integers separated by commas, "
            "such as 1,3,224,224"
        )
    shape = tuple(int(part) for part in re.split(r"[,x]", text))
    if any(size < 1 for size in shape):
        raise UsageError(f"malformed shape {text!r}: every dimension must be at least 1")
    return shape


def parse_dtype(name: str) -> str:
    """A dtype name or alias (``bf16``, ``fp32``, ``long``) → the torch name (``bfloat16``)."""
    dtype = DTYPES.get(name.strip().lower())
    if dtype is None:
        close = difflib.get_close_matches(name.lower(), DTYPES, n=2)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise UsageError(f"unknown dtype {name!r}; {hint}choose from: "
                         f"{', '.join(sorted(set(DTYPES.values())))}")
    return dtype


def parse_kwarg(text: str) -> tuple[str, TensorRequest]:
    """``"name=SHAPE"`` or ``"name=SHAPE:DTYPE"`` → ``(name, TensorRequest)``."""
    name, sep, rest = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise UsageError(f"malformed --kwarg {text!r}: expected NAME=SHAPE[:DTYPE], such as "
                         "attention_mask=1,128:int64")
    shape, _, dtype = rest.partition(":")
    return name.strip(), TensorRequest(parse_shape(shape), parse_dtype(dtype) if dtype else None)


def check_device(device: str) -> str:
    """``meta``, ``cpu``, ``cuda`` or ``cuda:N``; CUDA must be visible to torch."""
    import torch

    kind, _, index = device.partition(":")
    if kind not in DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        raise UsageError(f"unknown device {device!r}; choose meta, cpu, cuda or cuda:N")
    if kind == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda but torch sees no CUDA device; use --device meta or cpu")
    return device


# -- loading -----------------------------------------------------------------------------------
def load_model(spec: str, device: str = "meta", train: bool = False,
               dtype: str | None = None) -> LoadedModel:
    """Build the model named by ``spec`` on ``device``, in eval mode unless ``train``.

    ``dtype`` casts its floating parameters and buffers (e.g. ``bfloat16``). Spec errors
    (unknown names, missing files, a missing extra) raise flopwise errors; exceptions raised
    by the model's own construction code propagate unchanged.
    """
    import torch

    check_device(device)
    prefix, _, rest = spec.partition(":")
    builders = {"torchvision": _torchvision, "timm": _timm, "hf": _hf, "keras": _keras}
    builder = builders.get(prefix.lower())
    with torch.device(device):
        if builder is not None:
            if not rest:
                raise UsageError(f"model spec {spec!r} names no model after '{prefix}:'")
            loaded = builder(spec, rest)
        else:
            loaded = _factory(spec)
    if dtype is not None:
        loaded.model.to(getattr(torch, parse_dtype(dtype)))
    loaded.model.train(train)
    return loaded


def _close(name: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _keras(spec: str, path: str) -> LoadedModel:
    """A saved Keras 3 model (``keras:path/to/model.keras``), loaded on the torch backend."""
    from flopwise.keras import keras_input_shapes, load_keras_model

    model = load_keras_model(path, select_torch_backend=True)
    shapes = tuple(tuple(1 if d is None else d for d in shape)
                   for shape in keras_input_shapes(model))
    return LoadedModel(spec, "keras", model, default_shapes=shapes,
                       default_note="the Keras model's declared inputs (free dims = 1)")


def _torchvision(spec: str, name: str) -> LoadedModel:
    try:
        from torchvision import models
    except ImportError:
        raise MissingExtraError("torchvision", "vision", f"{spec!r}") from None
    known = models.list_models()
    if name not in known:
        raise ModelLoadError(f"unknown torchvision model {name!r}{_close(name, known)}; "
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


def _timm(spec: str, name: str) -> LoadedModel:
    try:
        import timm
    except ImportError:
        raise MissingExtraError("timm", "timm", f"{spec!r}") from None
    known = timm.list_models()
    if name not in known:
        raise ModelLoadError(f"unknown timm model {name!r}{_close(name, known)}")
    model = timm.create_model(name, pretrained=False)
    size = tuple(model.pretrained_cfg.get("input_size", ()))
    shapes = ((1, *size),) if size else ()
    return LoadedModel(spec, "timm", model, shapes, "the model's pretrained_cfg input_size")


def _hf_config(spec: str, text: str) -> Any:
    from transformers import CONFIG_MAPPING

    path = Path(text).expanduser()
    if path.is_dir():
        path = path / "config.json"
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ConfigError(f"cannot read {path} as JSON: {error}") from None
        model_type = data.get("model_type") if isinstance(data, dict) else None
        if not isinstance(model_type, str):
            raise ConfigError(f"{path} has no \"model_type\"; a transformers config.json names "
                              "its model type (gpt2, llama, bert, ...)")
        if model_type not in CONFIG_MAPPING:
            raise ConfigError(f"{path}: unknown model_type {model_type!r}"
                              f"{_close(model_type, list(CONFIG_MAPPING.keys()))}")
        return CONFIG_MAPPING[model_type].from_dict(data)
    if text.endswith(".json") or os.sep in text or "/" in text:
        raise ModelLoadError(f"{spec!r}: no such config file {str(path)!r}; hf:CONFIG reads a "
                             "local config.json or a model type, and downloads nothing")
    if text in CONFIG_MAPPING:
        return CONFIG_MAPPING[text]()
    raise ModelLoadError(
        f"unknown transformers model type {text!r}{_close(text, list(CONFIG_MAPPING.keys()))}; "
        "hf:CONFIG takes a model type (built from its config class defaults) or a local "
        "config.json; nothing is downloaded"
    )


def _hf_class(config: Any) -> Any:
    import transformers
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    for architecture in getattr(config, "architectures", None) or ():
        cls = getattr(transformers, architecture, None)
        if cls is not None:
            return cls
    model_type = config.model_type
    decoder_only = (model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
                    and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
                    and not getattr(config, "is_encoder_decoder", False))
    return transformers.AutoModelForCausalLM if decoder_only else transformers.AutoModel


def _hf(spec: str, text: str) -> LoadedModel:
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise MissingExtraError("transformers", "hf", f"{spec!r}") from None
    config = _hf_config(spec, text)
    cls = _hf_class(config)
    model = cls.from_config(config) if hasattr(cls, "from_config") else cls(config)
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    mirrored = ("decoder_input_ids",) if getattr(config, "is_encoder_decoder", False) else ()
    main = getattr(model, "main_input_name", "input_ids")
    token_ids = main == "input_ids"
    shapes: tuple[tuple[int, ...], ...]
    if token_ids:
        shapes, note = (HF_DEFAULT_SHAPE,), f"{HF_DEFAULT_SHAPE[1]} tokens"
        decoder_shape = None          # the decoder mirrors the token input
    else:
        shapes, note = _hf_default_input(config, main)
        # decoder tokens after a non-text encoder input, within the decoder's positions
        tokens = min(HF_DEFAULT_SHAPE[1], getattr(config, "max_target_positions", None) or 10**9)
        decoder_shape = (1, tokens)
    return LoadedModel(spec, "hf", model, shapes, note,
                       vocab_size=getattr(text_config, "vocab_size", None),
                       mirrored_kwargs=mirrored, mirrored_shape=decoder_shape,
                       token_inputs=token_ids,
                       replacing_kwargs=(main, "inputs_embeds"))


def _hf_default_input(config: Any, main: str) -> tuple[tuple[tuple[int, ...], ...], str]:
    """The default shape of a non-text main input, from the config; none when it says nothing."""
    if main == "pixel_values" and getattr(config, "image_size", None):
        size = config.image_size
        height, width = (size, size) if isinstance(size, int) else tuple(size)[:2]
        channels = int(getattr(config, "num_channels", 3))
        return ((1, channels, height, width),), f"a {height}×{width} image (config.image_size)"
    mel_bins = getattr(config, "num_mel_bins", None)
    positions = getattr(config, "max_source_positions", None)
    if main == "input_features" and mel_bins and positions:
        # Whisper's encoder halves the frames with a stride-2 convolution to its positions
        frames = 2 * positions
        return ((1, mel_bins, frames),), f"{mel_bins} mel bins × {frames} frames (config)"
    if main == "input_values":
        return ((1, 16000),), "1 s of 16 kHz audio"
    return (), ""


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


def _factory(spec: str) -> LoadedModel:
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
                             f"{_close(attribute, names)}")
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


# -- inputs ------------------------------------------------------------------------------------
def _tensor(request: TensorRequest, dtype: str, device: str, vocab_size: int | None,
            name: str) -> torch.Tensor:
    import torch

    torch_dtype = getattr(torch, dtype)
    if device == "meta":
        return torch.empty(request.shape, dtype=torch_dtype, device="meta")
    generator = torch.Generator().manual_seed(0)
    if dtype in _FLOAT_DTYPES:
        value = torch.randn(request.shape, generator=generator, dtype=torch_dtype)
    elif "mask" in name or dtype == "bool":
        value = torch.ones(request.shape, dtype=torch_dtype)
    elif vocab_size:
        value = torch.randint(0, vocab_size, request.shape, generator=generator, dtype=torch_dtype)
    else:
        value = torch.zeros(request.shape, dtype=torch_dtype)
    return value.to(device)


def _default_dtype(loaded: LoadedModel, name: str) -> str:
    if loaded.source == "hf" and ((name == "" and loaded.token_inputs)
                                  or name.endswith("_ids") or "mask" in name):
        return "int64"
    for param in loaded.model.parameters():
        if param.is_floating_point():
            return str(param.dtype).removeprefix("torch.")
    return "float32"


def make_inputs(loaded: LoadedModel, inputs: Sequence[TensorRequest] = (),
                kwargs: Mapping[str, TensorRequest] | None = None,
                device: str = "meta") -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword inputs for ``loaded.model`` on ``device``.

    Without positional requests, a factory's example inputs are used (keyword requests add to
    or replace its example keywords), else the model's default shapes, unless a keyword request
    stands in for them (``input_ids``/``inputs_embeds`` for hf). With nothing at all to go on,
    :class:`~flopwise.UsageError` asks for ``--input``. Dtypes default to int64 token ids (hf)
    or the model's floating dtype.
    """
    keyword_requests = dict(kwargs or {})

    def build(request: TensorRequest, name: str) -> torch.Tensor:
        dtype = request.dtype or _default_dtype(loaded, name)
        return _tensor(request, dtype, device, loaded.vocab_size, name)

    if not inputs and loaded.example_args is not None:
        built = {name: build(request, name) for name, request in keyword_requests.items()}
        return loaded.example_args, {**loaded.example_kwargs, **built}
    if not inputs and not set(loaded.replacing_kwargs) & set(keyword_requests):
        if not loaded.default_shapes and not keyword_requests:
            raise UsageError(f"{loaded.spec} has no default input shape; pass --input SHAPE "
                             "(repeat it for several positional inputs)")
        inputs = [TensorRequest(shape) for shape in loaded.default_shapes]
    for name in loaded.mirrored_kwargs:
        if inputs and name not in keyword_requests:
            keyword_requests[name] = (TensorRequest(loaded.mirrored_shape)
                                      if loaded.mirrored_shape is not None else inputs[0])
    args: tuple[Any, ...] = tuple(build(request, "") for request in inputs)
    if loaded.list_inputs:
        args = tuple([tensor] for tensor in args)
    return args, {name: build(request, name) for name, request in keyword_requests.items()}


# -- failures ----------------------------------------------------------------------------------
class CallTrace:
    """Which modules were running when a forward raised, for the CLI's one-line message.

    A context manager holding global forward pre-hooks and (non-``always_call``) forward hooks:
    modules that return pop themselves, so after an exception the stack still holds the chain
    of modules the exception came through, innermost last. Hooks are removed on exit.

    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    >>> with CallTrace(model) as trace:
    ...     try:
    ...         model(torch.randn(2, 5))
    ...     except RuntimeError:
    ...         pass
    >>> trace.innermost
    ('0', 'Linear', ((2, 5),))
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self._names = {id(module): (name, type(module).__name__)
                       for name, module in model.named_modules()}
        self._stack: list[tuple[str, str, tuple[tuple[int, ...], ...]]] = []
        self._handles: list[Any] = []

    def __enter__(self) -> CallTrace:
        from torch.nn.modules import module

        self._handles = [module.register_module_forward_pre_hook(self._pre),
                         module.register_module_forward_hook(self._post)]
        return self

    def __exit__(self, *exc_info: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _pre(self, module: torch.nn.Module, args: Any) -> None:
        from torch.utils._pytree import tree_leaves

        known = self._names.get(id(module))
        if known is not None:
            shapes = tuple(tuple(leaf.shape) for leaf in tree_leaves(args)
                           if hasattr(leaf, "shape") and hasattr(leaf, "dtype"))
            self._stack.append((*known, shapes))

    def _post(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        known = self._names.get(id(module))
        if known is None:
            return
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == known[0]:
                del self._stack[index:]
                return

    @property
    def innermost(self) -> tuple[str, str, tuple[tuple[int, ...], ...]] | None:
        """``(name, type, input shapes)`` of the innermost module still running, if any."""
        return self._stack[-1] if self._stack else None


def describe_failure(error: BaseException, trace: CallTrace, device: str) -> str:
    """One line: which module rejected which input shapes, and the error's first line."""
    lines = str(error).strip().splitlines()
    reason = f"{type(error).__name__}: {lines[0].rstrip('.')}" if lines else type(error).__name__
    where = trace.innermost
    if where is None:
        text = f"the model failed outside any module's forward: {reason}"
    else:
        name, kind, shapes = where
        who = f"module {name!r} ({kind})" if name else f"the model ({kind})"
        text = f"{who} rejected inputs of shapes {[list(s) for s in shapes]}: {reason}"
    if device == "meta" and "meta" in reason.lower():
        text += "; the model needs real values here, try --device cpu"
    elif re.search(r"bfloat16|float16", reason, re.IGNORECASE) and "float32" in reason.lower():
        # e.g. grouped GEMM kernels (transformers' MoE experts) take half precision only
        text += "; this kernel wants half precision, try --model-dtype bfloat16"
    return text
