"""The transformer/LLM planner: parameters, FLOPs, memory and time from a config, no torch.

>>> import flopwise.llm as llm
>>> result = llm.plan("llama-3-8b", seq=8192, hardware="h100-sxm")
>>> result.params.total
8030261248
>>> llm.count_params(llm.load_spec("mixtral-8x7b")).active
12879925248

Importing this package never imports torch: the planner is arithmetic over a config.
"""

from __future__ import annotations

from flopwise.llm.config import (
    SUPPORTED_MODEL_TYPES,
    TransformerSpec,
    load_spec,
    override_spec,
    spec_from_dims,
    spec_from_hf_config,
)
from flopwise.llm.flops import (
    Approximation,
    ForwardFlops,
    approximations,
    decode_flops_per_token,
    forward_flops,
    forward_matmul_flops,
    hardware_training_flops,
    training_flops,
    verl_training_flops,
)
from flopwise.llm.memory import (
    activation_memory,
    kv_cache_bytes,
    model_state_bytes,
    weights_by_dtype,
    weights_bytes,
)
from flopwise.llm.parallel import Layout, StepTime, bubble_fraction, step_time
from flopwise.llm.params import ParamCounts, count_params
from flopwise.llm.plan import LLMPlan, plan, sweep
from flopwise.llm.presets import preset_names, preset_source
from flopwise.llm.search import SearchResult, search
from flopwise.llm.timing import megatron_training_s, mfu, training_time

#: ``flopwise.plan_llm`` (the lazy top-level name) is :func:`plan`.
plan_llm = plan

__all__ = [
    "SUPPORTED_MODEL_TYPES",
    "TransformerSpec",
    "load_spec",
    "override_spec",
    "spec_from_dims",
    "spec_from_hf_config",
    "Approximation",
    "ForwardFlops",
    "approximations",
    "decode_flops_per_token",
    "forward_flops",
    "forward_matmul_flops",
    "hardware_training_flops",
    "training_flops",
    "verl_training_flops",
    "activation_memory",
    "kv_cache_bytes",
    "model_state_bytes",
    "weights_by_dtype",
    "weights_bytes",
    "Layout",
    "StepTime",
    "bubble_fraction",
    "step_time",
    "SearchResult",
    "search",
    "ParamCounts",
    "count_params",
    "LLMPlan",
    "plan",
    "plan_llm",
    "sweep",
    "preset_names",
    "preset_source",
    "megatron_training_s",
    "mfu",
    "training_time",
]
