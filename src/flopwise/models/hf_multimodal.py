"""Inputs of vision-language and multimodal models and their vision towers, from config and
forward (the rules :func:`flopwise.models.hf_inputs.hf_inputs` applies last).

General rules (each made input carries its reason, printed as a note):

- region features (LXMERT-style ``visual_feats``/``visual_pos`` with ``visual_*_dim`` in the
  config): 36 regions of those widths, the detector output these models were trained on;
- video (``pixel_values_videos``): ``[1, frames, C, H, W]``, frames from the config or 8, the
  frame size from the config or, for a timm tower, from its ``pretrained_cfg``; a text-first
  model that does not splice video into tokens gets the video beside its text;
- audio read by a DAC codec encoder (a ``dac_config``): ``[1, 1, samples]``, one second;
- towers fed flattened patches with their ``(x, y)`` positions (``pixel_position_ids``): the
  224 px image rounded up to whole pooling windows;
- towers that take their patch grid as ``target_sizes``/``tgt_sizes``: the image's grid;
- NaFlex patches (``spatial_shapes``) also when text comes first (SigLIP 2's dual encoder);
- several images per sample (``image_attention_mask`` beside precomputed image or perceiver
  embeddings: Idefics): ``[1, 1, C, H, W]``, one image every token sees;
- image features placed into text by a position mask (``image_embeds_position_mask``, Kosmos-2):
  the config's ``latent_query_num`` slots after the first token.

Model-specific inputs (a layout no config field records) are in :data:`SPECIFIC`.

>>> _frames(type("C", (), {"num_frames": 16})())
16
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flopwise.errors import ConfigError, ModelLoadError
from flopwise.models.hf_made import DEFAULT_IMAGE, DEFAULT_TOKENS
from flopwise.models.hf_made import splices as _splices
from flopwise.models.hf_made import sub_config as _sub_config
from flopwise.models.specs import TensorRequest

if TYPE_CHECKING:
    import torch

    from flopwise.models.hf_made import MadeInputs

__all__ = ["multimodal_inputs", "SPECIFIC", "REGIONS", "DEFAULT_FRAMES"]

# NB: LXMERT's Faster R-CNN features are 36 regions per image (its paper's setting)
REGIONS = 36
# NB: a short clip when the config names no frame count (PE video samples 8 frames)
DEFAULT_FRAMES = 8




def _image(config: Any) -> tuple[tuple[int, int, int], str]:
    """``(C, H, W)`` of one image from the vision config (224 px, 3 channels without one)."""
    vision = _sub_config(config, "vision_config")
    size = getattr(vision, "image_size", None) or getattr(config, "image_size", None)
    height, width = ((int(size[0]), int(size[-1])) if isinstance(size, (list, tuple))
                     else (size, size) if isinstance(size, int) and size > 0
                     else (DEFAULT_IMAGE, DEFAULT_IMAGE))
    where = "config" if size else "no size in the config: the ImageNet default"
    channels = int(getattr(vision, "num_channels", None) or 3)
    return (channels, height, width), f"{height}×{width} ({where})"


def _find(config: Any, name: str, depth: int = 3) -> Any:
    """``name`` on ``config`` or the nearest sub-config holding it (breadth first), else None."""
    level = [config]
    for _ in range(depth + 1):
        for item in level:
            value = getattr(item, name, None)
            if value is not None and not callable(value):
                return value
        level = [sub for item in level for sub in vars(item).values()
                 if hasattr(sub, "to_dict") and not isinstance(sub, type)]
    return None


def _frames(config: Any) -> int:
    frames = _find(config, "num_frames")
    return frames if isinstance(frames, int) and frames > 0 else DEFAULT_FRAMES


def _frame(config: Any) -> tuple[tuple[int, int, int], str]:
    """``(C, H, W)`` of one frame: the config's image size, or a timm tower's pretrained size."""
    architecture = _find(config, "architecture")
    if isinstance(architecture, str):
        import timm

        pretrained = timm.get_pretrained_cfg(architecture)
        if pretrained is not None:
            channels, height, width = pretrained.input_size
            return (channels, height, width), f"{height}×{width} ({architecture}'s pretrained_cfg)"
    return _image(config)


def _embedded(parameters: Mapping[str, Any], made: MadeInputs, config: Any) -> list[str]:
    """A bare encoder fed embeddings (Perceiver without a preprocessor): ``[1, T, d_model]``."""
    width = getattr(config, "d_model", None)
    if made.main != "inputs" or made.shapes or not isinstance(width, int):
        return []
    limit = getattr(config, "max_position_embeddings", None)
    tokens = min(DEFAULT_TOKENS, limit) if isinstance(limit, int) and limit > 0 else DEFAULT_TOKENS
    made.shapes, made.note = ((1, tokens, width),), (
        f"{tokens} embedded inputs × {width} (d_model: the bare model has no preprocessor)")
    return []


def _regions(parameters: Mapping[str, Any], made: MadeInputs, config: Any) -> list[str]:
    notes = []
    for name in ("visual_feats", "visual_pos"):
        width = getattr(config, name.replace("feats", "feat") + "_dim", None)
        if name in parameters and isinstance(width, int) and name not in made.kwargs:
            made.kwargs[name] = TensorRequest((1, REGIONS, width))
            notes.append(f"{name}: {REGIONS} image regions × {width} (a detector's output)")
    return notes


def _video(parameters: Mapping[str, Any], made: MadeInputs, config: Any) -> list[str]:
    name = "pixel_values_videos"
    wanted = made.main == name or (
        name in parameters and made.main in ("input_ids", "input_values")
        and not _splices(config, "image", "video"))
    if not wanted:
        return []
    frames, (channels, height, width), why = _frames(config), *_frame(config)
    shape = (1, frames, channels, height, width)
    note = f"{frames} frames of {why}"
    if made.main == name:
        made.shapes, made.note = (shape,), note
        return []
    made.kwargs[name] = TensorRequest(shape)
    return [f"{name}: {note}"]


def _dac_audio(parameters: Mapping[str, Any], made: MadeInputs, config: Any) -> list[str]:
    dac = _find(config, "dac_config")
    if dac is None or "input_values" not in parameters:
        return []
    rate = int(getattr(dac, "sampling_rate", None) or 16000)
    note = f"1 s of {rate} Hz audio, 1 channel (a DAC encoder reads [batch, channels, samples])"
    if made.main == "input_values":
        made.shapes, made.note = ((1, 1, rate),), note
        return []
    if made.main != "input_ids":
        return []
    made.kwargs["input_values"] = TensorRequest((1, 1, rate))
    return [f"input_values: {note}"]


def _positioned_patches(parameters: Mapping[str, Any], made: MadeInputs,
                        config: Any) -> list[str]:
    if made.main != "pixel_values" or "pixel_position_ids" not in parameters:
        return []
    patch = int(getattr(config, "patch_size", None) or 16)
    window = int(getattr(config, "pooling_kernel_size", None) or 1)
    side = math.ceil(DEFAULT_IMAGE / (patch * window)) * window
    channels = int(getattr(config, "num_channels", None) or 3)
    made.shapes = ((1, side * side, channels * patch * patch),)
    made.note = (f"a {side * patch}×{side * patch} image as {side * side} flattened "
                 f"{patch}×{patch} patches (224 px rounded up to whole {window}×{window} "
                 "pooling windows)")
    positions = tuple(v for y in range(side) for x in range(side) for v in (x, y))
    made.kwargs["pixel_position_ids"] = TensorRequest((1, side * side, 2), "int64",
                                                      values=positions)
    return [f"pixel_position_ids: the (x, y) of each patch, a {side}×{side} grid"]


def _patch_grid(parameters: Mapping[str, Any], made: MadeInputs, config: Any) -> list[str]:
    names = [n for n in ("target_sizes", "tgt_sizes") if n in parameters]
    if made.main != "pixel_values" or not names or len(made.shapes[0]) != 4:
        return []
    patch = int(getattr(config, "patch_size", None) or 14)
    rows, cols = made.shapes[0][2] // patch, made.shapes[0][3] // patch
    made.kwargs[names[0]] = TensorRequest((1, 2), "int64", values=(rows, cols))
    return [f"{names[0]}: the image's {rows}×{cols} grid of {patch}×{patch} patches"]


def _naflex_pair(parameters: Mapping[str, Any], made: MadeInputs, config: Any) -> list[str]:
    if (made.main != "input_ids" or "spatial_shapes" not in parameters
            or _splices(config, "image")):
        return []                      # a VLM splicing features into tokens stays text only
    vision = _sub_config(config, "vision_config")
    patch, count = int(getattr(vision, "patch_size", 16)), int(getattr(vision, "num_patches", 256))
    side = math.isqrt(count)
    channels = int(getattr(vision, "num_channels", None) or 3)
    made.kwargs["pixel_values"] = TensorRequest((1, side * side, channels * patch * patch))
    made.kwargs["spatial_shapes"] = TensorRequest((1, 2), "int64", values=(side, side))
    made.kwargs["pixel_attention_mask"] = TensorRequest((1, side * side), "int64")
    return [f"pixel_values: a {side * patch}×{side * patch} image as {side * side} flattened "
            f"{patch}×{patch} patches (spatial_shapes {side}×{side}, every patch attended)"]


def _image_sets(parameters: Mapping[str, Any], made: MadeInputs, config: Any) -> list[str]:
    if (made.main != "input_ids" or "image_attention_mask" not in parameters
            or not {"image_encoder_embeddings", "perceiver_embeddings"} & set(parameters)):
        return []                 # Idefics-style only (FLAVA's image mask is per patch)
    image, why = _image(config)
    made.kwargs["pixel_values"] = TensorRequest((1, 1, *image))
    made.kwargs["image_attention_mask"] = TensorRequest((1, made.shapes[0][1], 1), "int64")
    return [f"pixel_values: one image per sample, a {why} image",
            "image_attention_mask: every token sees the image"]


def _position_mask(parameters: Mapping[str, Any], made: MadeInputs, config: Any) -> list[str]:
    slots = getattr(config, "latent_query_num", None)
    if "image_embeds_position_mask" not in parameters or not isinstance(slots, int):
        return []
    tokens = made.kwargs["input_ids"].shape[1] if "input_ids" in made.kwargs else 0
    if tokens < slots + 2:
        return []
    values = (0,) + (1,) * slots + (0,) * (tokens - slots - 1)
    made.kwargs["image_embeds_position_mask"] = TensorRequest((1, tokens), "int64", values=values)
    return [f"image_embeds_position_mask: the image's {slots} features after the first token"]


def _qformer(made: MadeInputs, config: Any) -> list[str]:
    # BLIP-2's Q-Former alone: its 32 learned queries (Blip2Config.num_query_tokens) reading a
    # 224 px image from a patch-14 ViT, 16² patches + a class token = 257 positions
    made.main, made.note = "query_embeds", f"32 query embeddings × {config.hidden_size}"
    made.shapes = ((1, 32, config.hidden_size),)
    made.kwargs["encoder_hidden_states"] = TensorRequest((1, 257, config.encoder_hidden_size))
    return [f"encoder_hidden_states: 257 image features × {config.encoder_hidden_size} "
            "(a 224 px image through a patch-14 ViT, as in BLIP-2)"]


def _tiles(made: MadeInputs, config: Any) -> list[str]:
    # Inkling 2's tower reads one [p·m, p·m, C] tile per language-model image token and counts
    # its grid in those tokens (its forward's documented layout)
    patch, merge = int(config.patch_size), int(config.spatial_merge_size)
    side = math.ceil(DEFAULT_IMAGE / (patch * merge))
    tile = patch * merge
    made.shapes = ((side * side, tile, tile, int(config.num_channels)),)
    made.note = (f"a {side * tile}×{side * tile} image as {side * side} tiles of {tile}×{tile} "
                 f"pixels ({merge}×{merge} patches of {patch} px each)")
    made.kwargs["image_grid_thw"] = TensorRequest((1, 3), "int64", values=(1, side, side))
    return [f"image_grid_thw: one image, {side}×{side} tiles"]


def _clip(made: MadeInputs, config: Any) -> list[str]:
    # InstructBLIP-Video reads every clip as 4 frames (its forward's comment: "video has
    # frames=4 always"), batched as [batch, frames, C, H, W]
    made.shapes = ((made.shapes[0][0], 4, *made.shapes[0][1:]),)
    made.note = f"4 frames of {made.note.removeprefix('a ').replace(' image', '')}"
    return []


def _conv_patches(made: MadeInputs, config: Any) -> list[str]:
    # Kimi K2.5's tower applies its Conv2d patch embedding to pixel_values directly: each packed
    # patch comes as [C, p, p] (the packed-patch rule made it a row of C·p² pixels)
    patch = int(config.patch_size)
    rows = made.shapes[0][0]
    channels = made.shapes[0][1] // (patch * patch)
    made.shapes = ((rows, channels, patch, patch),)
    made.note += f", each as [{channels}, {patch}, {patch}] (its Conv2d patch embedding reads so)"
    return []


def _smallest_image(made: MadeInputs, config: Any) -> list[str]:
    # GLM-Image's processor resizes images to between 512² and 2048² pixels; its config's
    # image_size (2048) is the largest. Its code needs values (a CPU run), where attention over
    # 2048 px (16,384 patches) needs far more than the CPU retry's memory: 512 px, the smallest
    patch = int(config.patch_size)
    side = 512 // patch
    made.shapes = ((side * side, int(config.in_channels) * patch * patch),)
    made.note = (f"a 512×512 image (the processor's smallest; the config's {config.image_size} "
                 f"px is its largest) as {side * side} packed {patch}×{patch} patches")
    made.kwargs["grid_thw"] = TensorRequest((1, 3), "int64", values=(1, side, side))
    return [f"grid_thw: one image, grid 1×{side}×{side} patches"]


def _draft_block(made: MadeInputs, config: Any) -> list[str]:
    # a DFlash drafter: one block of noise embeddings, reading the target model's hidden states
    # (its forward's documented shapes) at the target_layer_ids, for 128 accepted tokens
    width = config.hidden_size * len(config.target_layer_ids)
    made.shapes = ((1, config.block_size, config.hidden_size),)
    made.note = f"one block of {config.block_size} noise embeddings × {config.hidden_size}"
    made.kwargs["context_hidden_states"] = TensorRequest((1, DEFAULT_TOKENS, width))
    return [f"context_hidden_states: {DEFAULT_TOKENS} accepted tokens × {width} (the "
            f"target's hidden states at {len(config.target_layer_ids)} layers)"]


def _robot_step(made: MadeInputs, config: Any) -> list[str]:
    # π0: one camera image, its image tokens plus a 48-token prompt (π0's prompt length) as the
    # prefix, and the action expert's suffix of one state token + chunk_size action tokens
    vision = config.vlm_config.vision_config
    image_tokens = (vision.image_size // vision.patch_size) ** 2
    tokens = image_tokens + 48
    hidden = config.dit_config.hidden_size
    made.shapes = ((1, config.chunk_size + 1, hidden),)
    made.note = f"1 state + {config.chunk_size} action embeddings × {hidden}"
    made.kwargs["input_ids"] = TensorRequest((1, tokens))
    made.kwargs["pixel_values"] = TensorRequest((1, 1, 3, vision.image_size, vision.image_size))
    made.kwargs["pixel_attention_mask"] = TensorRequest((1, 1), "bool")
    return [f"input_ids: {image_tokens} image tokens + a 48-token prompt",
            f"pixel_values: one camera, a {vision.image_size}×{vision.image_size} image"]


# model type → the inputs its forward documents, which no config field spells out
SPECIFIC: dict[str, Callable[[MadeInputs, Any], list[str]]] = {
    "blip_2_qformer": _qformer,
    "inkling2_vision": _tiles,
    "instructblipvideo": _clip,
    "kimi_k25_vision": _conv_patches,
    "glm_image_vision": _smallest_image,
    "muse_glimmer_assistant": _draft_block,
    "pi0": _robot_step,
}


def _check_placeholders(model: torch.nn.Module, parameters: Mapping[str, Any],
                        config: Any) -> None:
    """Refuse a model that must place image features at placeholder tokens whose id its config
    leaves unset: its forward cannot run (BLIP-2's default config)."""
    if not hasattr(model, "get_placeholder_mask"):
        return
    required = {name for name, parameter in parameters.items()
                if parameter.default is inspect.Parameter.empty}
    unset = [key for key, value in config.to_dict().items() if value is None
             and ("image_token" in key or "video_token" in key)]
    if unset and required & {"pixel_values", "pixel_values_videos"}:
        raise ConfigError(
            f"{config.model_type}: the config leaves {unset[0]} unset, so the model cannot find "
            "the tokens its image features replace (transformers' default config); pass a "
            f"config.json that sets {unset[0]} (the processor's image token id)")


def _check_forward(model: torch.nn.Module, config: Any) -> None:
    """Refuse a model without a forward of its own (used through other methods, such as a
    VQ-VAE's ``encode``): no input makes it run."""
    import torch

    if type(model).forward is torch.nn.Module.forward:
        methods = [name for name in ("encode", "decode", "generate") if hasattr(model, name)]
        used = f" (it is used through {', '.join(methods)})" if methods else ""
        raise ModelLoadError(
            f"{config.model_type}: {type(model).__name__} has no forward of its own{used}; "
            "profile a model that has one (one of its parts, from a config.json) or a "
            "path/to/file.py:factory that calls the method you want")


def multimodal_inputs(model: torch.nn.Module, parameters: Mapping[str, Any], made: MadeInputs,
                      config: Any, notes: list[str]) -> list[str]:
    """Apply the rules above to ``made`` (in place); ``notes`` without those of the inputs the
    rules made again, and the rules' own notes."""
    _check_forward(model, config)
    _check_placeholders(model, parameters, config)
    before = dict(made.kwargs)
    specific = SPECIFIC.get(getattr(config, "model_type", ""))
    added: list[str] = []
    if specific is not None:
        added.extend(specific(made, config))
    else:
        for rule in (_embedded, _regions, _video, _dac_audio, _positioned_patches, _patch_grid,
                     _naflex_pair, _image_sets, _position_mask):
            added.extend(rule(parameters, made, config))
    remade = {name for name in {*before, *made.kwargs}
              if before.get(name) is not made.kwargs.get(name)}
    kept = [note for note in notes
            if not remade & {name.strip() for name in note.partition(":")[0].split(",")}]
    return kept + added
