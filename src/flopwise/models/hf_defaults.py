"""Default configs that transformers' own forward cannot run, and no size-keeping repair fixes.

A few model types ship a default config whose model builds but whose forward fails, for a
reason in the config (a misspelt key, a list left empty, a backbone that does not fit its
neck). Repairing them would build a different model than the default config describes (other
parameters), so flopwise does not; when such a type, built from its default config
(``hf:TYPE``), fails the way the table says, the CLI's one line names the field to set in a
config.json instead of the model's own error alone. The repairs that keep the model's size
are in :mod:`flopwise.models.hf_text` and :mod:`flopwise.models.hf_vision`.

>>> empty = ValueError("torch.cat(): expected a non-empty list of Tensors")
>>> line = default_config_fault("hf:lw_detr", empty)
>>> line.startswith("hf:lw_detr: transformers' default config is invalid for its own forward")
True
>>> line[line.index("); ") + 3:line.index(" (`")]
'pass a config.json that sets projector_scale_factors (one scale per feature level, e.g. [1.0])'
>>> default_config_fault("path/to/config.json", empty)       # not transformers' default config
''
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flopwise.errors import first_line

__all__ = ["DefaultFault", "DEFAULT_FAULTS", "default_config_fault"]


@dataclass(frozen=True)
class DefaultFault:
    """What is wrong in a type's default config: the field to set, why, and the error it makes."""

    field: str            # what the user's config.json must set, and to what
    why: str              # what the default config holds, and what the forward does with it
    error: str            # a pattern of the model's own error this fault makes


_BACKBONE_CHANNELS = r"channel"

# model type → its default config's fault (checked in transformers 5.24's configuration files)
DEFAULT_FAULTS: dict[str, DefaultFault] = {
    "deepseek_v2": DefaultFault(
        "moe_intermediate_size (1408, as DeepSeek-V2-Lite's config.json)",
        "its moe_intermediate_size of 1407 makes the experts' intermediate rows 2814 bytes in "
        "bfloat16 (their grouped kernel runs in half precision only), and that kernel takes "
        "rows of whole multiples of 16 bytes", r"multiple of 16 bytes"),
    "edgetam": DefaultFault(
        "vision_config.backbone_config.architecture (repvit_m1)",
        "its backbone_config spells the key 'archirecture', so timm_wrapper builds its default "
        "backbone, whose 1024-channel features do not fit the neck's 384-channel convolutions",
        _BACKBONE_CHANNELS),
    "edgetam_vision_model": DefaultFault(
        "backbone_config.architecture (repvit_m1)",
        "its backbone_config spells the key 'archirecture', so timm_wrapper builds its default "
        "backbone, whose 1024-channel features do not fit the neck's 384-channel convolutions",
        _BACKBONE_CHANNELS),
    "lw_detr": DefaultFault(
        "projector_scale_factors (one scale per feature level, e.g. [1.0])",
        "its projector_scale_factors is empty (no feature level), so the forward concatenates "
        "no features", r"non-empty list"),
    "pp_ocrv6_small_det": DefaultFault(
        "backbone_config (the pp_lcnet_v3 backbone its neck's channels fit)",
        "its backbone_config builds pp_lcnet_v4, while its neck's layer_list_out_channels "
        "(12, 18, 42, 360) fit pp_lcnet_v3", _BACKBONE_CHANNELS),
    "uvdoc": DefaultFault(
        "backbone_config.out_features (every bridge stage)",
        "its backbone_config sets no out_features, so the backbone returns one of its 6 bridge "
        "outputs while the head's bridge_connector takes all 6 concatenated", _BACKBONE_CHANNELS),
}


def default_config_fault(spec: str, error: BaseException) -> str:
    """The one line for ``error`` from ``hf:TYPE`` built from its default config, when the
    table knows why that config fails this way; empty otherwise."""
    model_type = spec.removeprefix("hf:") if spec.startswith("hf:") else ""
    fault = DEFAULT_FAULTS.get(model_type)
    first = first_line(error)
    if fault is None or not re.search(fault.error, first, re.IGNORECASE):
        return ""
    return (f"{spec}: transformers' default config is invalid for its own forward: {fault.why} "
            f"({first}); pass a config.json that sets {fault.field} "
            "(`flopwise profile path/to/config.json`)")
