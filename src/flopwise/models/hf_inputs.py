"""The inputs a transformers model's forward needs, made from its config and its signature.

Rules (each made input carries its reason, which the CLI prints as a note):

- token ids ``[1, T]``: ``T = min(128, max_position_embeddings)`` of the text config;
- images ``pixel_values`` ``[1, C, H, W]`` from the vision config (``image_size``,
  ``num_channels``; 224 px and 3 channels when it says nothing); video models (a
  ``num_frames``) get ``[1, frames, C, H, W]``;
- log-mel features ``input_features``: ``[1, mel, 2·max_source_positions]`` (Whisper-style,
  mel bins first) or ``[1, 1000, feature_size]`` (10 s at 100 frames/s, features last);
- raw audio ``input_values``: one second at the config's ``sampling_rate`` (16 kHz without
  one), ``[1, samples]``, or ``[1, audio_channels, samples]`` for audio codecs;
- beside text: ``bbox`` ``[1, T, 4]`` (layout models), ``decoder_input_ids`` (encoder-decoder
  models), ``pixel_values`` (text-image models such as CLIP, unless the model splices image
  features into placeholder tokens, which needs real token values), ``lang_ids`` (X-MOD);
- beside an image or audio: every ``*input_ids`` the forward requires (BLIP-2, InstructBLIP's
  ``qformer_input_ids``), and ``input_ids`` when the config has a text tower (Kosmos-2, SAM 3);
- packed-patch vision towers (Qwen-VL-style, a ``grid_thw`` input): one 224 px image (or the
  config's ``image_size``) as rows of ``channels × temporal_patch_size × patch²`` pixels, its
  patch grid ``[[1, h, w]]`` (and ``merge_sizes``) as real values; NaFlex towers (SigLIP 2,
  a ``spatial_shapes`` input): the config's ``num_patches`` as one square grid;
- time series ``past_values``: ``[1, context_length, num_input_channels]``.

>>> _token_count(type("C", (), {"max_position_embeddings": 77})())
77
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from flopwise.models import hf_multimodal
from flopwise.models.hf_audio import audio_inputs
from flopwise.models.hf_made import DEFAULT_IMAGE, DEFAULT_TOKENS, MadeInputs
from flopwise.models.hf_made import splices as _splices
from flopwise.models.hf_made import sub_config as _sub_config
from flopwise.models.hf_vision import vision_inputs
from flopwise.models.specs import TensorRequest

if TYPE_CHECKING:
    import torch

__all__ = ["MadeInputs", "hf_inputs", "DEFAULT_TOKENS", "DEFAULT_IMAGE"]

FEATURE_FRAMES = 1000
_POSITION_FIELDS = ("max_position_embeddings", "n_positions", "max_seq_len",
                    "max_sequence_length")


def _token_count(config: Any) -> int:
    limits = [getattr(config, name) for name in _POSITION_FIELDS
              if isinstance(getattr(config, name, None), int) and getattr(config, name) > 0]
    return min([DEFAULT_TOKENS, *limits])


def _image(config: Any) -> tuple[tuple[int, ...], str]:
    vision = _sub_config(config, "vision_config", "backbone_config")
    size = getattr(vision, "image_size", None) or getattr(config, "image_size", None)
    if isinstance(size, (list, tuple)):
        height, width = int(size[0]), int(size[-1])
    elif isinstance(size, dict):
        height = width = int(size.get("height") or size.get("shortest_edge") or DEFAULT_IMAGE)
    elif isinstance(size, int) and size > 0:
        height = width = size
    else:
        height = width = DEFAULT_IMAGE
    channels = int(getattr(vision, "num_channels", None) or 3)
    frames = getattr(vision, "num_frames", None)
    where = "config" if size else "no size in the config: the ImageNet default"
    if isinstance(frames, int) and frames > 0:
        return ((1, frames, channels, height, width),
                f"{frames} frames of {height}×{width} ({where})")
    return (1, channels, height, width), f"a {height}×{width} image ({where})"


def _features(config: Any) -> tuple[tuple[int, ...], str]:
    audio = _sub_config(config, "audio_config", "encoder_config")
    mel_bins = getattr(audio, "num_mel_bins", None)
    positions = getattr(audio, "max_source_positions", None)
    if mel_bins and positions:
        # NB: Whisper-style encoders halve the frames with a stride-2 conv to their positions
        frames = 2 * positions
        return (1, mel_bins, frames), f"{mel_bins} mel bins × {frames} frames (config)"
    size = (getattr(audio, "feature_size", None) or getattr(audio, "input_feat_per_channel", None)
            or mel_bins or 80)
    channels = int(getattr(audio, "input_channels", 1) or 1)
    return ((1, FEATURE_FRAMES, size * channels),
            f"{FEATURE_FRAMES} frames × {size * channels} features (10 s at 100 frames/s)")


def _waveform(model: Any, config: Any) -> tuple[tuple[int, ...], str]:
    rate = int(getattr(config, "sampling_rate", None) or 16000)
    channels = getattr(config, "audio_channels", None)
    if channels is None and hasattr(model, "quantizer"):
        channels = 1
    if channels is not None:
        return (1, int(channels), rate), f"1 s of {rate} Hz audio, {channels} channel(s) (codec)"
    return (1, rate), f"1 s of {rate} Hz audio"


def _packed(config: Any) -> tuple[tuple[int, ...], tuple[int, int, int], int, str]:
    """Packed patches of one image (Qwen-VL-style vision towers): the patch rows, the grid
    ``(t, h, w)`` in patches, and the spatial merge size.

    The image is 224 px (or the config's ``image_size``) rounded up to whole merged patches;
    each row holds ``channels × temporal_patch_size × patch²`` pixels (a still image fills the
    temporal patch with copies, as the processors do).
    """
    vision = _sub_config(config, "vision_config")
    patch = int(getattr(vision, "patch_size", None) or 14)
    temporal = int(getattr(vision, "temporal_patch_size", None)
                   or getattr(vision, "patch_temporal", None) or 1)
    merge = int(getattr(vision, "spatial_merge_size", None) or getattr(vision, "merge_size", None)
                or 1)
    channels = int(getattr(vision, "in_channels", None) or getattr(vision, "in_chans", None)
                   or getattr(vision, "num_channels", None) or 3)
    size = getattr(vision, "image_size", None)
    size = size if isinstance(size, int) and size > 0 else DEFAULT_IMAGE
    side = -(-size // (patch * merge)) * merge                 # patches, whole merged blocks
    rows = (side * side, channels * temporal * patch * patch)
    return rows, (1, side, side), merge, (f"a {side * patch}×{side * patch} image as {rows[0]} "
                                          f"packed {patch}×{patch} patches (grid 1×{side}×{side})")


def _main_input(model: Any, config: Any, main: str) -> tuple[tuple[int, ...] | None, str]:
    if main == "input_ids":
        tokens = _token_count(_sub_config(config, "text_config"))
        return (1, tokens), f"{tokens} tokens"
    if main in ("pixel_values", "pixel_values_videos"):
        return _image(config)
    if main == "input_features":
        return _features(config)
    if main in ("input_values", "audio_values"):
        return _waveform(model, config)
    if main == "hidden_states":                      # a vision tower fed packed patches
        rows, _, _, note = _packed(config)
        return rows, note
    if main == "past_values" and isinstance(getattr(config, "context_length", None), int):
        steps, channels = config.context_length, getattr(config, "num_input_channels", None)
        shape = (1, steps, channels) if isinstance(channels, int) else (1, steps)
        return shape, f"{steps} past time steps" + (f" × {channels} channel(s)" if channels else "")
    return None, ""


def _spatial(parameters: Any, made: MadeInputs, config: Any) -> list[str]:
    """NaFlex-style towers (SigLIP 2): ``num_patches`` patches of one square image, flattened,
    with their ``spatial_shapes`` as real values and an all-ones ``pixel_attention_mask``."""
    if made.main != "pixel_values" or "spatial_shapes" not in parameters:
        return []
    vision = _sub_config(config, "vision_config")
    patch, count = int(getattr(vision, "patch_size", 16)), int(getattr(vision, "num_patches", 256))
    side = int(count ** 0.5)
    channels = int(getattr(vision, "num_channels", None) or 3)
    made.shapes = ((1, side * side, channels * patch * patch),)
    made.note = f"a {side * patch}×{side * patch} image as {side * side} flattened {patch}×{patch} patches"
    made.kwargs["spatial_shapes"] = TensorRequest((1, 2), "int64", values=(side, side))
    notes = [f"spatial_shapes: {side}×{side} patches"]
    if "pixel_attention_mask" in parameters:
        made.kwargs["pixel_attention_mask"] = TensorRequest((1, side * side), "int64")
        notes.append("pixel_attention_mask: every patch")
    return notes


def _grids(parameters: Any, made: MadeInputs, config: Any) -> list[str]:
    """The patch grid (and merge size) of a packed-patch vision tower; its patches replace an
    image input."""
    names = [name for name in parameters if name.endswith("grid_thw")]
    if not names or (made.main == "input_ids" and _splices(config, "image", "video")):
        return []                      # a VLM splicing features into tokens: text only
    rows, grid, merge, note = _packed(config)
    if made.main in ("pixel_values", "hidden_states"):
        made.shapes, made.note = (rows,), note
    elif "pixel_values" in parameters:
        made.kwargs["pixel_values"] = TensorRequest(rows)
    for name in names:
        made.kwargs[name] = TensorRequest((1, 3), "int64", values=grid)
    notes = [f"{', '.join(names)}: one image, grid {grid[0]}×{grid[1]}×{grid[2]} patches"]
    if "merge_sizes" in parameters:
        made.kwargs["merge_sizes"] = TensorRequest((1,), "int64", values=(merge,))
        notes.append(f"merge_sizes: {merge} (the config's spatial merge size)")
    if made.main not in ("pixel_values", "hidden_states") and "pixel_values" in parameters:
        notes.append(f"pixel_values: {note}")
    return notes


def hf_inputs(model: torch.nn.Module, config: Any) -> MadeInputs:
    """Every input ``model.forward`` needs, from ``config`` and the forward's parameters."""
    parameters = inspect.signature(model.forward).parameters
    main = getattr(model, "main_input_name", "input_ids")
    main = main[0] if isinstance(main, (list, tuple)) else main          # OneFormer names two
    if main not in parameters:
        main = next(iter(parameters), main)
    shape, note = _main_input(model, config, main)
    made = MadeInputs(main, (shape,) if shape else (), note)
    notes: list[str] = []
    text = main == "input_ids"
    required = {name for name, parameter in parameters.items()
                if parameter.default is inspect.Parameter.empty
                and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)}
    notes.extend(_grids(parameters, made, config))
    notes.extend(_spatial(parameters, made, config))
    if text and "bbox" in parameters:
        made.follow["bbox"] = (4,)
        notes.append("bbox: one box per token, all zero (a layout model)")
    if "lang_ids" in parameters and getattr(config, "default_language", "") is None:
        made.kwargs["lang_ids"] = TensorRequest((1,), "int64", high=1)
        notes.append(f"lang_ids: the config's first language "
                     f"({(getattr(config, 'languages', None) or ['?'])[0]})")
    if getattr(config, "is_encoder_decoder", False) and "decoder_input_ids" in parameters:
        if text:
            made.follow["decoder_input_ids"] = ()
            notes.append("decoder_input_ids: as many decoder tokens as encoder tokens")
        else:
            decoder = _sub_config(config, "decoder", "text_config")
            tokens = min(DEFAULT_TOKENS, getattr(config, "max_target_positions", None) or 10**9,
                         _token_count(decoder))
            made.kwargs["decoder_input_ids"] = TensorRequest((1, tokens))
            notes.append(f"decoder_input_ids: {tokens} decoder tokens")
    if text and "pixel_values" in parameters and "pixel_values" not in made.kwargs:
        if _splices(config, "image", "video"):
            notes.append("text only: this model splices image features into image tokens; "
                         "pass --kwarg pixel_values=... with matching tokens to count its vision")
        else:
            image, why = _image(config)
            made.kwargs["pixel_values"] = TensorRequest(image)
            notes.append(f"pixel_values: {why}")
    if (text and "input_features" in parameters and hasattr(config, "audio_config")
            and not _splices(config, "audio")):
        features, why = _features(config)
        made.kwargs["input_features"] = TensorRequest(features)
        notes.append(f"input_features: {why}")
    wanted = [name for name in parameters if name.endswith("input_ids") and name != main
              and name not in made.kwargs
              and (name in required or (name == "input_ids" and hasattr(config, "text_config")))]
    if not text and wanted:
        tokens = _token_count(_sub_config(config, "text_config"))
        for name in wanted:                  # a qformer's ids stay below the qformer's vocabulary
            own = getattr(_sub_config(config, name.removesuffix("input_ids") + "config"),
                          "vocab_size", None)
            made.kwargs[name] = TensorRequest((1, tokens), high=own if name != "input_ids" else None)
        notes.append(f"{', '.join(wanted)}: {tokens} tokens (the forward needs text)")
    notes = vision_inputs(parameters, made, config, notes)
    notes = hf_multimodal.multimodal_inputs(model, parameters, made, config, notes)
    made.notes = tuple(notes)
    made.notes = audio_inputs(model, config, parameters, made)
    return made
