"""Image inputs of detection, segmentation, matching, depth, OCR and video vision models.

Rules applied after :func:`hf_inputs <flopwise.models.hf_inputs.hf_inputs>` made a default image
(each adds a note saying what was made and why):

- size: when no ``image_size`` sits where the generic rule looks, a nested backbone's
  (SAM 2's ``vision_config.backbone_config``), then ``max_img_size`` / ``crop_size`` of the
  config, then the fixed output size of the model's own image (or video) processor, which is
  what a user's images are resized to (DepthPro 1536², SAM 2 1024², PP-OCR detection 960²,
  UVDoc 712×488); a ``*_vision_model`` tower takes its model's processor; a short table
  (:data:`_PROCESSOR_TOO_SMALL`) names default configs that cannot take their processor's size;
- windowed backbones (a ``num_windows`` beside ``patch_size``, RF-DETR): each side rounded up to
  whole windows of whole patches;
- video: a ``num_frames`` or ``frames_per_clip`` on the model's own config (TVP, V-JEPA 2) makes
  ``[1, frames, C, H, W]``;
- keypoint matching (a type of ``MODEL_FOR_KEYPOINT_MATCHING``): the forward compares two
  images, ``[1, 2, C, H, W]``;
- video trackers (a forward taking an ``inference_session``): no default input; the error
  names the per-frame model to profile instead;
- task-conditioned segmentation (OneFormer, a ``task_inputs`` and ``task_seq_len``): the task
  prompt as ``task_seq_len`` token ids;
- in-context segmentation (a required ``prompt_pixel_values``, SegGPT): the image, a prompt
  image and its mask (``prompt_masks``) at the processor's size; the model stacks them into
  the canvas its config's ``image_size`` describes.

>>> _whole_windows(518, 14, 4)
560
"""

from __future__ import annotations

from typing import Any

from flopwise.models.specs import TensorRequest

__all__ = ["vision_inputs", "processor_size"]

_TOWER_SUFFIX = "_vision_model"
# types whose default config cannot take its processor's size (the size fits the released
# checkpoint's config only): they keep the generic 224 px default
_PROCESSOR_TOO_SMALL = {
    # the default pp_lcnet_v3 backbone halves the height in all 5 stages: a 48 px text line
    # leaves nothing to pool (RuntimeError: Calculated output size: (384x0x5))
    "pp_ocrv5_mobile_rec": (48, 320),
}
_FRAME_FIELDS = ("num_frames", "frames_per_clip")


def processor_size(model_type: str) -> tuple[str, tuple[int, int]] | None:
    """The type whose image (or video) processor fixes an output size, and that ``(height,
    width)``, if any.

    A center crop wins over the resize; a resize keeping the aspect ratio (``shortest_edge``)
    fixes no size.
    """
    from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES
    from transformers.models.auto.video_processing_auto import VIDEO_PROCESSOR_MAPPING_NAMES

    for kind in (model_type, model_type.removesuffix(_TOWER_SUFFIX)):
        for table in (IMAGE_PROCESSOR_MAPPING_NAMES, VIDEO_PROCESSOR_MAPPING_NAMES):
            names = table.get(kind)
            for name in (names.values() if isinstance(names, dict) else [names]):
                size = _class_size(name) if isinstance(name, str) else None
                if size and _PROCESSOR_TOO_SMALL.get(model_type) != size:
                    return kind, size
    return None


def _class_size(name: str) -> tuple[int, int] | None:
    import transformers

    cls = getattr(transformers, name, None)
    if cls is None:
        return None
    crop = getattr(cls, "crop_size", None) if getattr(cls, "do_center_crop", False) else None
    for size in (crop, getattr(cls, "size", None)):
        if isinstance(size, int) and size > 0:
            return size, size
        if isinstance(size, dict) and size.get("height") and size.get("width"):
            return int(size["height"]), int(size["width"])
    return None


def _config_side(config: Any) -> tuple[tuple[int, int], str] | None:
    """A size the config holds where the generic rule does not look."""
    vision = getattr(config, "vision_config", None)
    nested = getattr(vision, "backbone_config", None)
    for owner, name in ((nested, "image_size"), (config, "max_img_size"), (config, "crop_size")):
        size = getattr(owner, name, None) if owner is not None else None
        if isinstance(size, int) and size > 0:
            return (size, size), f"config {name}"
        if isinstance(size, (list, tuple)) and size:
            return (int(size[0]), int(size[-1])), f"config {name}"
    return None


def _generic_size_found(config: Any) -> bool:
    """Whether the generic rule (hf_inputs) found an ``image_size`` in the config."""
    vision = next((sub for sub in (getattr(config, name, None)
                                   for name in ("vision_config", "backbone_config"))
                   if sub is not None and not isinstance(sub, (dict, int, str))), config)
    return bool(getattr(vision, "image_size", None) or getattr(config, "image_size", None))


def _whole_windows(side: int, patch: int, windows: int) -> int:
    """``side`` rounded up to a multiple of ``patch × windows``."""
    step = patch * windows
    return -(-side // step) * step


def _windowed(config: Any, height: int, width: int) -> tuple[int, int, str]:
    backbone = getattr(config, "backbone_config", None)
    windows = getattr(backbone, "num_windows", None)
    patch = getattr(backbone, "patch_size", None)
    if not (isinstance(windows, int) and isinstance(patch, int) and windows > 1):
        return height, width, ""
    new = _whole_windows(height, patch, windows), _whole_windows(width, patch, windows)
    if new == (height, width):
        return height, width, ""
    return (*new, f"rounded up to whole {windows}×{windows} windows of {patch} px patches")


def _frames(config: Any) -> int | None:
    for name in _FRAME_FIELDS:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _image_request(made: Any, parameters: Any) -> tuple[str, tuple[int, ...]] | None:
    """Where the made image is (``""``: the main input, else a keyword) and its shape."""
    if made.main in ("pixel_values", "pixel_values_videos") and made.shapes:
        return "", made.shapes[0]
    request = made.kwargs.get("pixel_values")
    if request is not None and "pixel_values" in parameters:
        return "pixel_values", request.shape
    return None


def _session_forward(parameters: Any, made: Any, config: Any) -> None:
    """Video trackers (SAM 2 video, EdgeTAM video, SAM 3 video) take an inference session, not
    tensors: no default input; the note says what to profile instead."""
    if made.main != "inference_session" or made.shapes:
        return
    frame_model = getattr(config, "model_type", "").removesuffix("_video")
    made.note = ("its forward takes an inference session (a Python object its processor builds "
                 "from a video and prompts), not tensors; profile the model it runs on each "
                 f"frame, hf:{frame_model}, or build the session in a factory file "
                 "(path/to/file.py:factory returning the model and its inputs)")


def _task_tokens(parameters: Any, made: Any, config: Any) -> list[str]:
    """OneFormer's task prompt (``task_inputs``): ``task_seq_len`` token ids, as its processor
    tokenises "the task is semantic/instance/panoptic"."""
    length = getattr(config, "task_seq_len", None)
    if "task_inputs" not in parameters or not isinstance(length, int):
        return []
    vocab = getattr(config, "text_encoder_vocab_size", None)
    made.kwargs["task_inputs"] = TensorRequest((1, length), "int64", high=vocab)
    return [f"task_inputs: {length} tokens (the task prompt, the config's task_seq_len)"]


def vision_inputs(parameters: Any, made: Any, config: Any, notes: list[str]) -> list[str]:
    """Adjust the image ``made`` holds for the vision models above; ``notes`` with the note
    of a remade keyword image replaced, and one more per input made."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_KEYPOINT_MATCHING_MAPPING_NAMES

    _session_forward(parameters, made, config)
    notes = [*notes, *_task_tokens(parameters, made, config)]
    found = _image_request(made, parameters)
    if found is None or len(found[1]) not in (4, 5):
        return notes
    where, made_shape = found
    batch, (channels, height, width) = made_shape[0], made_shape[-3:]
    model_type = getattr(config, "model_type", "")
    why: list[str] = []
    prompted = "prompt_pixel_values" in parameters
    if prompted or not _generic_size_found(config):
        side = None if prompted else _config_side(config)
        processor = processor_size(model_type)
        if side is not None:
            (height, width), source = side
            why.append(source)
        elif processor is not None:
            kind, (height, width) = processor
            why.append(f"the default size of {kind}'s image processor")
    height, width, rounded = _windowed(config, height, width)
    why += [rounded] if rounded else []
    shape: tuple[int, ...] = (batch, channels, height, width)
    what = f"a {height}×{width} image"
    frames = _frames(config) or (made_shape[1] if len(made_shape) == 5 else None)
    if model_type in MODEL_FOR_KEYPOINT_MATCHING_MAPPING_NAMES:
        shape, what = (batch, 2, channels, height, width), f"a pair of {height}×{width} images"
        why.append("a keypoint matcher compares two images")
    elif frames:
        shape, what = (batch, frames, channels, height, width), f"{frames} frames of {height}×{width}"
        why.append("a video model: the config's frame count")
    notes = list(notes)
    if prompted:
        for name in ("prompt_pixel_values", "prompt_masks"):
            # NB: float32 (a mask would default to int64 ids); the model casts its images only
            made.kwargs[name] = TensorRequest(shape, "float32")
        notes.append(f"prompt_pixel_values, prompt_masks: a {height}×{width} prompt image and "
                     "its mask (in-context segmentation: the model stacks them over the image)")
    if not why and not prompted:
        return notes
    note = f"{what} ({'; '.join(why) or 'config'})"
    if where:
        made.kwargs[where] = TensorRequest(shape)
        notes = [line for line in notes if not line.startswith(f"{where}:")]
        notes.append(f"{where}: {note}")
    else:
        made.shapes, made.note = (shape, *made.shapes[1:]), note
    return notes
