"""Memory of a transformer: weights by dtype, training state, activations, KV cache, per GPU.

Training state follows mixed-precision Adam (Rajbhandari et al. 2019, "ZeRO"): 16-bit weights
and gradients plus fp32 master weights, momentum and variance — 2 + 2 + 12 = 16 bytes per
parameter — sharded over the data-parallel ranks by ZeRO stage 1 (optimizer), 2 (+ gradients)
and 3 (+ weights). Activations follow Korthikanti et al. 2022 ("Reducing Activation
Recomputation in Large Transformer Models"), generalised from the GPT block to grouped-query
attention, gated and mixture-of-experts MLPs; for a GPT block it is exactly their
s·b·h·(34 + 5·a·s/h).

>>> from flopwise.llm.config import load_spec
>>> weights_bytes(6_738_415_616, "bf16")            # Llama-2-7B in bf16
13476831232
>>> kv_cache_bytes(load_spec("llama-2-7b"), batch=1, context=4096, dtype="bf16")   # 2·32·4096·4096·2
2147483648
"""

from __future__ import annotations

from dataclasses import dataclass

from flopwise.errors import UsageError
from flopwise.llm.config import TransformerSpec
from flopwise.llm.flops import RECOMPUTE, check_choice

__all__ = [
    "DTYPE_BITS",
    "TRAINING_PRECISION",
    "ZERO_STAGES",
    "check_dtype",
    "training_dtype",
    "weights_bytes",
    "weights_by_dtype",
    "ModelState",
    "model_state_bytes",
    "LayerActivations",
    "ActivationMemory",
    "layer_activations",
    "activation_memory",
    "kv_cache_bytes",
    "kv_cache_bytes_per_gpu",
]

#: Storage bits per element of each weight dtype the planner knows.
DTYPE_BITS: dict[str, int] = {"fp32": 32, "bf16": 16, "fp16": 16, "fp8": 8, "int8": 8, "int4": 4}

#: Bytes per parameter of (weights, gradients, optimizer state) when training in a dtype.
#: 16-bit and fp8 training keep 16-bit weights and gradients and fp32 master weights, Adam
#: momentum and variance (12 bytes); fp32 training keeps fp32 weights, gradients, momentum
#: and variance.
TRAINING_PRECISION: dict[str, tuple[int, int, int]] = {
    "fp32": (4, 4, 8),
    "bf16": (2, 2, 12),
    "fp16": (2, 2, 12),
    "fp8": (2, 2, 12),
}

ZERO_STAGES: tuple[int, ...] = (0, 1, 2, 3)

#: Bytes per activation element (Korthikanti et al. store activations in 16 bits).
ACTIVATION_BYTES = 2
#: Bytes per element of the logits kept for the loss (fp32 for a stable softmax).
LOGIT_BYTES = 4


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def check_dtype(dtype: str, flag: str = "--dtype") -> str:
    """``dtype`` if the planner knows it, else a UsageError listing the known ones."""
    if dtype not in DTYPE_BITS:
        raise UsageError(f"{flag} must be one of {', '.join(DTYPE_BITS)}, got {dtype!r}")
    return dtype


def training_dtype(dtype: str) -> str:
    """The dtype training is planned in: ``dtype`` itself, or bf16 for int8/int4.

    Integer formats are for inference; training with them is planned as bf16 mixed precision
    (and the plan says so).
    """
    check_dtype(dtype)
    return dtype if dtype in TRAINING_PRECISION else "bf16"


def weights_bytes(params: int, dtype: str) -> int:
    """Bytes to store ``params`` elements in ``dtype`` (int4 packs two per byte, rounded up)."""
    return _ceil_div(params * DTYPE_BITS[check_dtype(dtype)], 8)


def weights_by_dtype(params: int) -> dict[str, int]:
    """Weight bytes in every known dtype.

    >>> weights_by_dtype(10)
    {'fp32': 40, 'bf16': 20, 'fp16': 20, 'fp8': 10, 'int8': 10, 'int4': 5}
    """
    return {dtype: weights_bytes(params, dtype) for dtype in DTYPE_BITS}


@dataclass(frozen=True)
class ModelState:
    """Training state on one GPU: weights, gradients and optimizer state, in bytes."""

    weights: int
    gradients: int
    optimizer: int

    @property
    def total(self) -> int:
        """Weights + gradients + optimizer state."""
        return self.weights + self.gradients + self.optimizer


def model_state_bytes(
    params: int, dtype: str = "bf16", *, zero: int = 0, tp: int = 1, pp: int = 1, dp: int = 1
) -> ModelState:
    """Per-GPU training state: the model split over ``tp·pp`` GPUs, then ZeRO over ``dp``.

    >>> state = model_state_bytes(1_000, "bf16", zero=1, dp=4)   # 2 + 2 + 12/4 bytes/param
    >>> state.weights, state.gradients, state.optimizer
    (2000, 2000, 3000)
    """
    if zero not in ZERO_STAGES:
        raise UsageError(f"--zero must be 0, 1, 2 or 3, got {zero}")
    weight_b, grad_b, optim_b = TRAINING_PRECISION[training_dtype(dtype)]
    # NB: an even split over tensor and pipeline ranks; in practice the embedding and LM head
    # make the first and last pipeline stages a little heavier.
    shard = _ceil_div(params, tp * pp)
    weights, gradients, optimizer = shard * weight_b, shard * grad_b, shard * optim_b
    if zero >= 1:
        optimizer = _ceil_div(optimizer, dp)
    if zero >= 2:
        gradients = _ceil_div(gradients, dp)
    if zero >= 3:
        weights = _ceil_div(weights, dp)
    return ModelState(weights=weights, gradients=gradients, optimizer=optimizer)


@dataclass(frozen=True)
class LayerActivations:
    """Bytes one transformer layer keeps for its backward pass, unsplit (t = 1).

    ``replicated`` lives outside the tensor-parallel region (norm inputs, the inputs of the
    attention and MLP blocks, the residual dropout masks): split by t only under sequence
    parallelism. ``split`` lives inside it (Q, K, V, the attention output, the MLP's inner
    activations): always split by t. ``scores`` is the s×s part (softmax output, its dropout
    mask and output), which selective recomputation drops.
    """

    replicated: int
    split: int
    scores: int
    layer_input: int


def _mlp_inner_width(spec: TransformerSpec) -> int:
    # NB: a mixture of experts keeps the inner activations of its top-k experts (and the shared
    # expert) for each token; router logits are ignored.
    if spec.is_moe:
        return spec.experts_per_token * spec.expert_ffn + spec.shared_expert_ffn
    return spec.ffn


def layer_activations(spec: TransformerSpec, seq: int, batch: int) -> LayerActivations:
    """Korthikanti et al.'s per-layer accounting for this architecture (16-bit activations).

    For a GPT block (MHA, 4h GELU MLP, dropout) the parts add up to their
    34·s·b·h + 5·a·s²·b bytes.

    >>> from flopwise.llm.config import load_spec
    >>> parts = layer_activations(load_spec("gpt2"), seq=1024, batch=1)
    >>> parts.replicated + parts.split == 34 * 1024 * 768
    True
    >>> parts.scores == 5 * 12 * 1024 * 1024
    True
    """
    sb = seq * batch
    two = ACTIVATION_BYTES
    hidden_masks = 2 * sb * spec.hidden if spec.hidden_dropout else 0
    replicated = two * sb * spec.hidden * (2 + 1 + 1) + hidden_masks  # 2 norm inputs, attn & MLP inputs
    q, kv = spec.q_dim, spec.kv_dim
    attention = two * sb * (q + kv) + two * sb * kv + two * sb * q  # Q and K, V, output-proj input
    inner = _mlp_inner_width(spec)
    mlp = two * sb * inner * (3 if spec.gated_mlp else 2)  # gate, up, product | act in, act out
    squares = spec.heads * seq * seq * batch
    scores = two * squares + ((1 + two) * squares if spec.attention_dropout else 0)
    return LayerActivations(
        replicated=replicated,
        split=attention + mlp,
        scores=scores,
        layer_input=two * sb * spec.hidden,
    )


@dataclass(frozen=True)
class ActivationMemory:
    """Activation bytes on the busiest GPU (the first pipeline stage) during training.

    With 1F1B pipelining the first stage holds ``pp`` micro-batches of ``layers/pp`` layers,
    i.e. all ``layers`` layers' worth for one micro-batch (Korthikanti et al. 2022).
    ``outside_layers`` is the final norm, LM-head input and fp32 logits, counted when one
    stage holds the whole model (``pp == 1``).
    """

    per_layer: int
    layers: int
    outside_layers: int
    recompute: str

    @property
    def total(self) -> int:
        """All activation bytes on the GPU."""
        return self.per_layer * self.layers + self.outside_layers


def _per_layer(parts: LayerActivations, recompute: str, tp: int, sp: bool) -> int:
    replicated_split = tp if sp else 1
    if recompute == "full":
        return _ceil_div(parts.layer_input, replicated_split)
    kept = parts.split + (parts.scores if recompute == "none" else 0)
    return _ceil_div(parts.replicated, replicated_split) + _ceil_div(kept, tp)


def _outside_layers(spec: TransformerSpec, seq: int, batch: int, tp: int, sp: bool) -> int:
    sb = seq * batch
    replicated_split = tp if sp else 1
    norm_input = ACTIVATION_BYTES * sb * spec.hidden if spec.final_norm else 0
    if not spec.lm_head:
        return _ceil_div(norm_input, replicated_split)
    head_input = ACTIVATION_BYTES * sb * spec.hidden
    logits = LOGIT_BYTES * sb * spec.vocab
    return _ceil_div(norm_input + head_input, replicated_split) + _ceil_div(logits, tp)


def activation_memory(
    spec: TransformerSpec,
    seq: int,
    batch: int,
    *,
    recompute: str = "none",
    tp: int = 1,
    sp: bool = False,
    pp: int = 1,
) -> ActivationMemory:
    """Training activation bytes per GPU for micro-batches of ``batch`` sequences of ``seq``.

    ``recompute``: ``none`` keeps everything; ``selective`` recomputes the attention scores
    (what flash attention also avoids storing); ``full`` keeps only each layer's input.
    ``tp`` splits the tensor-parallel part; ``sp`` (sequence parallel) splits the rest too.

    >>> from flopwise.llm.config import load_spec
    >>> gpt = load_spec("gpt-3-175b")
    >>> s, b, h, a = 2048, 1, 12288, 96
    >>> activation_memory(gpt, s, b, recompute="none").per_layer == s*b*h*(34 + 5*a*s//h)
    True
    """
    check_choice(recompute, RECOMPUTE, "--recompute")
    if tp < 1 or pp < 1:
        raise UsageError(f"--tp and --pp must be at least 1, got tp={tp}, pp={pp}")
    parts = layer_activations(spec, seq, batch)
    outside = _outside_layers(spec, seq, batch, tp, sp) if pp == 1 else 0
    return ActivationMemory(
        per_layer=_per_layer(parts, recompute, tp, sp),
        layers=spec.layers,
        outside_layers=outside,
        recompute=recompute,
    )


def _cached_positions(spec: TransformerSpec, context: int) -> int:
    """Cached token positions summed over layers; a sliding-window layer keeps the last window."""
    full_layers = spec.layers - spec.sliding_window_layers
    positions = full_layers * context
    if spec.sliding_window is not None:
        positions += spec.sliding_window_layers * min(context, spec.sliding_window)
    return positions


def kv_cache_bytes(spec: TransformerSpec, batch: int, context: int, dtype: str = "bf16") -> int:
    """Bytes of the key/value cache: 2 (K and V) · layers · kv_heads · head_dim · bytes, per
    token of context per sequence (a sliding-window layer caches at most the window).

    Encoders have no cache (0).
    """
    if not spec.decoder:
        return 0
    elements = 2 * spec.kv_dim * _cached_positions(spec, context) * batch
    return weights_bytes(elements, dtype)


def kv_cache_bytes_per_gpu(
    spec: TransformerSpec, batch: int, context: int, dtype: str = "bf16", *, tp: int = 1, pp: int = 1
) -> int:
    """The KV cache on one GPU: KV heads split over ``tp`` (replicated once ``tp`` exceeds
    them), layers over ``pp``."""
    total = kv_cache_bytes(spec, batch, context, dtype)
    heads_per_gpu = _ceil_div(spec.kv_heads, tp)
    return _ceil_div(total * heads_per_gpu, spec.kv_heads * pp)
