"""Default configs of language models that transformers' own forward rejects, made runnable.

A few model types ship a default config that their own code cannot run, for reasons that do
not touch the model's size (every rule below leaves the parameters as built). Each repair is
made on the config before the model is built, and comes back as a note the CLI prints:

- **no cache that the config can make:** one forward pass needs no key/value cache, yet a
  model whose ``use_cache`` is on builds one. When transformers cannot build or measure that
  cache from the config (a hybrid whose default layers are all linear attention, as Bamba's;
  a config without ``num_hidden_layers``, as BLT's), ``use_cache`` is turned off;
- **an unused sliding window:** a model that builds a sliding-window mask for every config
  (Step 3) while no layer of this config slides gets ``sliding_window`` =
  ``max_position_embeddings`` (the mask is made and never read);
- **multimodal rotary sections:** a rotary embedding that splits its frequencies into
  ``mrope_section`` parts (GLM-4V) needs ``2 · sum(mrope_section)`` rotary dimensions; when
  the default config rotates the whole head instead, ``partial_rotary_factor`` becomes
  ``2 · sum(mrope_section) / head_dim`` (0.5 for GLM-4.1V's 128-wide heads and ``[8, 12, 12]``,
  as its released checkpoints set it). Read from the built model, which is then rebuilt.
  Sections that need more frequencies than the head has (a head narrower than they assume)
  cannot be repaired without changing the model's size: :func:`rotary_misfit` says so;
- **a routing width left unset:** a mixture-of-experts config whose ``num_experts_per_tok``
  is ``None`` cannot route (``topk`` needs an int). Where the checkpoint transformers' default
  config documents sets it, that value is used (:data:`_CHECKPOINT_VALUES`): DeepSeek-V2's
  default config names DeepSeek-V2-Lite, and both released DeepSeek-V2 models route each token
  to 6 experts (DeepSeek-AI, "DeepSeek-V2", 2024, and the appendix on V2-Lite; their
  config.json on the Hub).

>>> from transformers import PretrainedConfig
>>> config = PretrainedConfig(layer_types=["full_attention"] * 2, max_position_embeddings=64)
>>> config.sliding_window = None
>>> repair_config(config)
['sliding_window: 64 (no layer of this config slides; the sliding mask its forward builds is never read)']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["repair_config", "repair_rotary", "rotary_misfit"]

# model type → (field, the value its documented checkpoint sets, that checkpoint), for fields
# transformers' default config leaves None although its forward needs them
_CHECKPOINT_VALUES: dict[str, tuple[str, int, str]] = {
    "deepseek_v2": ("num_experts_per_tok", 6, "deepseek-ai/DeepSeek-V2-Lite"),
}
_SLIDING = ("sliding_attention", "sliding_window", "local_attention", "chunked_attention")


def _configs(config: Any) -> list[Any]:
    """The config and its text (decoder) config, once each."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    return [config] if text is config else [config, text]


def _cache_fails(config: Any) -> str:
    """Why transformers cannot build or measure an empty key/value cache for ``config``."""
    from transformers import DynamicCache

    try:
        DynamicCache(config=config).get_seq_length()
    except Exception as error:             # transformers' own complaint, reported in the note
        return f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"
    return ""


def _no_cache(config: Any) -> list[str]:
    if not getattr(config, "use_cache", False):
        return []
    why = next((reason for part in _configs(config) if (reason := _cache_fails(part))), "")
    if not why:
        return []
    for part in _configs(config):
        part.use_cache = False
    return [f"use_cache: off (one forward pass needs no cache, and transformers cannot make one "
            f"for this config: {why.split('. ')[0].rstrip('.')})"]


def _unused_window(config: Any) -> list[str]:
    notes = []
    for part in _configs(config):
        layer_types = getattr(part, "layer_types", None)
        positions = getattr(part, "max_position_embeddings", None)
        try:
            window = getattr(part, "sliding_window", False)
        except Exception:       # NB: per-layer configs (NeoMME) refuse a global read: rule off
            continue
        if (not isinstance(layer_types, (list, tuple)) or not layer_types
                or window is not None
                or not isinstance(positions, int)
                or any(kind in _SLIDING for kind in layer_types)):
            continue
        part.sliding_window = positions
        notes.append(f"sliding_window: {positions} (no layer of this config slides; the sliding "
                     "mask its forward builds is never read)")
    return notes


def _checkpoint_value(config: Any) -> list[str]:
    known = _CHECKPOINT_VALUES.get(getattr(config, "model_type", ""))
    if known is None or getattr(config, known[0], 0) is not None:
        return []
    field, value, checkpoint = known
    setattr(config, field, value)
    return [f"{field}: {value} (unset in this config, and its forward needs it; {checkpoint}, "
            "the checkpoint transformers' default config names, sets it)"]


def repair_config(config: Any) -> list[str]:
    """Repair ``config`` in place where its own model cannot run it; a note per repair."""
    return [*_no_cache(config), *_unused_window(config), *_checkpoint_value(config)]


def _head_dim(config: Any) -> int | None:
    head_dim = getattr(config, "head_dim", None)
    if isinstance(head_dim, int) and head_dim > 0:
        return head_dim
    hidden, heads = getattr(config, "hidden_size", None), getattr(config, "num_attention_heads", None)
    return hidden // heads if isinstance(hidden, int) and isinstance(heads, int) and heads else None


def repair_rotary(model: torch.nn.Module, config: Any) -> list[str]:
    """Set ``partial_rotary_factor`` where a built rotary embedding's ``mrope_section`` needs
    fewer frequencies than it has; a note per repair (empty: ``model`` is as it should be).

    The caller rebuilds the model when a note comes back.
    """
    for module in model.modules():
        sections, inv_freq = getattr(module, "mrope_section", None), getattr(module, "inv_freq", None)
        part = getattr(module, "config", None)
        if (not isinstance(sections, (list, tuple)) or inv_freq is None or part is None
                or not isinstance(getattr(part, "rope_parameters", None), dict)):
            continue
        needed, head_dim = 2 * sum(sections), _head_dim(part)
        if needed == 2 * inv_freq.shape[-1] or head_dim is None or needed > head_dim:
            continue
        factor = needed / head_dim
        for same in [part, *(c for c in _configs(config) if type(c) is type(part))]:
            same.rope_parameters["partial_rotary_factor"] = factor
        return [f"partial_rotary_factor: {factor:g} (its rotary sections {list(sections)} turn "
                f"{needed} of the {head_dim} head dimensions; the default config turns all)"]
    return []


def rotary_misfit(model: torch.nn.Module) -> str:
    """Why a built rotary embedding's ``mrope_section`` cannot fit its head (empty: it fits).

    The sections take ``sum(mrope_section)`` of the ``head_dim / 2`` frequencies; when the
    config's head is narrower than that, only a wider head (more parameters) would do.
    """
    for module in model.modules():
        sections, inv_freq = getattr(module, "mrope_section", None), getattr(module, "inv_freq", None)
        part = getattr(module, "config", None)
        if not isinstance(sections, (list, tuple)) or inv_freq is None or part is None:
            continue
        head_dim = _head_dim(part)
        if sum(sections) > inv_freq.shape[-1] and head_dim is not None:
            rope = getattr(part, "rope_parameters", None) or {}
            share = float(rope.get("partial_rotary_factor", 1.0)) if isinstance(rope, dict) else 1.0
            needed = round(2 * sum(sections) / share)
            return (f"its config's attention heads of {head_dim} dimensions rotate "
                    f"{inv_freq.shape[-1]} frequencies, fewer than the {sum(sections)} its "
                    f"rotary sections {list(sections)} split (transformers' own forward fails); "
                    f"pass a config.json with head_dim {needed}")
    return ""
