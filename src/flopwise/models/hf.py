"""``hf:CONFIG``: a transformers model built from its config, without weights and without network.

``CONFIG`` is a local ``config.json`` (or a folder holding one), or a model type such as
``gpt2``, ``bert`` or ``llama`` (the config class's defaults). The class is the config's
``architectures[0]`` when it names one, else the causal-LM head for decoder-only types, else
the base model. Inputs come from the config and the forward's signature (:mod:`hf_inputs
<flopwise.models.hf_inputs>`).
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any

from flopwise.errors import ConfigError, MissingExtraError, ModelLoadError
from flopwise.models.hf_config import config_path, model_type_of, read_config
from flopwise.models.hf_inputs import hf_inputs
from flopwise.models.hf_text import repair_config, repair_rotary, rotary_misfit
from flopwise.models.loaded import LoadedModel
from flopwise.models.specs import close_names

if TYPE_CHECKING:
    import torch

__all__ = ["load", "build", "cheap_weights", "hf_config", "hf_class", "declared_dtype"]


def hf_config(spec: str, text: str) -> Any:
    """The transformers config ``text`` names: a local ``config.json`` or a model type."""
    from transformers import CONFIG_MAPPING

    known = list(CONFIG_MAPPING.keys())
    path = config_path(text, "a model type such as gpt2")
    if path is not None:
        data = read_config(path)
        model_type = model_type_of(data, str(path))
        if model_type not in CONFIG_MAPPING:
            raise ConfigError(f"{path}: unknown model_type {model_type!r}"
                              f"{close_names(model_type, known)}")
        return CONFIG_MAPPING[model_type].from_dict(data)
    if text in CONFIG_MAPPING:
        return CONFIG_MAPPING[text]()
    raise ModelLoadError(
        f"unknown transformers model type {text!r}{close_names(text, known)}; hf:CONFIG takes "
        "a model type (built from its config class defaults) or a local config.json; nothing "
        "is downloaded"
    )


def hf_class(config: Any) -> Any:
    """The class to build: ``architectures[0]``, the causal LM of a decoder-only type, or the
    base model."""
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


def declared_dtype(config: Any) -> str | None:
    """The floating dtype the config declares (``dtype``, formerly ``torch_dtype``), if any."""
    # transformers 5 warns on reading ``torch_dtype``: read it only where ``dtype`` is absent
    value = config.dtype if hasattr(config, "dtype") else getattr(config, "torch_dtype", None)
    name = str(value).removeprefix("torch.") if value is not None else None
    return name if name in ("float32", "float16", "bfloat16") else None


def build(cls: Any, config: Any) -> torch.nn.Module:
    """``cls`` from ``config`` on the default device; off meta with cheap weights.

    Off the meta device, transformers' weight initialisation (seconds to minutes on a CPU) is
    skipped and the weights are cheap (:func:`cheap_weights`): counting needs values only where
    the model's code branches on them. What transformers prints while building (its docstring
    checks of functions some models define in ``__init__``, PE Video's) goes to stderr: stdout
    is the caller's (the CLI's JSON).
    """
    import torch
    from transformers.initialization import no_init_weights

    def construct() -> torch.nn.Module:
        with contextlib.redirect_stdout(sys.stderr):
            return cls.from_config(config) if hasattr(cls, "from_config") else cls(config)

    if torch.get_default_device().type == "meta":
        return construct()
    with no_init_weights():
        model = construct()
    tie_weights = getattr(model, "tie_weights", None)
    if callable(tie_weights):
        tie_weights()                # skipped with the initialisation
    cheap_weights(model)
    return model


def cheap_weights(model: torch.nn.Module) -> None:
    """Make every floating parameter a view of a few random numbers, in place.

    A parameter of shape ``(d0, d1, ...)`` reads element ``[i, j, ...]`` from
    ``pool[i + j + ...]``, a pool of ``d0 + d1 + ... - n + 1`` values drawn uniformly from
    ±0.02 with a fixed seed: values vary along every dimension, yet a 7 GiB model holds a few
    MiB of weights (an op copies one weight at a time). Tied parameters stay tied.

    >>> import torch
    >>> layer = torch.nn.Linear(1000, 1000)
    >>> cheap_weights(layer)
    >>> layer.weight.untyped_storage().nbytes(), layer.weight.shape
    (7996, torch.Size([1000, 1000]))
    """
    import torch
    from torch._subclasses.fake_tensor import is_fake

    if any(is_fake(param) for param in model.parameters()):
        return                     # a simulated world's fake tensors hold no values to make
    generator = torch.Generator().manual_seed(0)
    made: dict[int, torch.nn.Parameter] = {}
    for module in model.modules():
        for name, param in list(module._parameters.items()):
            if param is None or not param.is_floating_point():
                continue
            if id(param) not in made:
                size = max(1, sum(param.shape) - param.dim() + 1)
                pool = torch.rand(size, generator=generator, dtype=param.dtype)
                view = pool.mul_(0.04).sub_(0.02).to(param.device).as_strided(
                    param.shape, (1,) * param.dim())
                made[id(param)] = torch.nn.Parameter(view, requires_grad=param.requires_grad)
            module._parameters[name] = made[id(param)]


def load(spec: str, text: str) -> LoadedModel:
    """Build the model on the current default device; its inputs from config and signature."""
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise MissingExtraError("transformers", "hf", f"{spec!r}") from None
    config = hf_config(spec, text)
    repairs = repair_config(config)
    model = build(hf_class(config), config)
    rotary = repair_rotary(model, config)
    if rotary:
        model = build(hf_class(config), config)
    misfit = rotary_misfit(model)
    if misfit:
        raise ConfigError(f"{spec}: {misfit}")
    made = hf_inputs(model, config)
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    return LoadedModel(spec, "hf", model, made.shapes, made.note,
                       vocab_size=made.vocab_size or getattr(text_config, "vocab_size", None),
                       default_kwargs=made.kwargs, follow_kwargs=made.follow,
                       notes=(*repairs, *rotary, *made.notes),
                       token_inputs=made.main == "input_ids",
                       replacing_kwargs=(made.main, "inputs_embeds"),
                       declared_dtype=declared_dtype(config))
