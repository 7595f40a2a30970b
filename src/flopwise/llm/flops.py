"""Matmul FLOPs of a transformer: forward, training, decode, and the literature's shortcuts.

Convention (flopwise's ``matmul`` convention, the one MFU figures use): 2 FLOPs per
multiply-accumulate of every matrix product — the Q/K/V/output projections, the attention
products QKᵀ and AV, the MLP (router and shared expert included), the LM head and a pooler.
Embedding lookups, norms, activations, softmax, bias adds and residual adds are not counted.

The attention square is counted ``"full"`` by default: the s×s score matrix the dense kernels
compute even under a causal or sliding-window mask (what an operator counter sees, and what
PaLM, nanoGPT and verl count). ``"causal"`` counts only the query/key pairs the mask keeps
(s(s+1)/2, fewer inside a sliding window): what an ideal flash-style kernel computes.

>>> from flopwise.llm.config import load_spec
>>> spec = load_spec("gpt2")
>>> forward_matmul_flops(spec, seq=1024)       # nanoGPT's GPT-2 forward, 1024 tokens
291648307200
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flopwise.errors import UsageError
from flopwise.llm.config import TransformerSpec
from flopwise.llm.params import ParamCounts, count_params, dense_mlp_params, expert_params

__all__ = [
    "ATTENTION_SQUARES",
    "check_choice",
    "RECOMPUTE",
    "ForwardFlops",
    "Approximation",
    "forward_flops",
    "forward_matmul_flops",
    "attention_pairs",
    "decode_flops_per_token",
    "training_flops",
    "hardware_training_flops",
    "approximations",
    "verl_training_flops",
]

ATTENTION_SQUARES: tuple[str, ...] = ("full", "causal")
RECOMPUTE: tuple[str, ...] = ("none", "selective", "full")


def check_choice(value: str, choices: tuple[str, ...], flag: str) -> None:
    """Raise a UsageError naming ``flag`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise UsageError(f"{flag} must be one of {', '.join(choices)}, got {value!r}")


def _triangle(n: int) -> int:
    return n * (n + 1) // 2


def _window_pairs(seq: int, window: int) -> int:
    """Query/key pairs of a causal mask limited to the last ``window`` keys (self included)."""
    if seq <= window:
        return _triangle(seq)
    return _triangle(window) + (seq - window) * window


def attention_pairs(spec: TransformerSpec, seq: int, attention: str = "full") -> int:
    """Query/key pairs scored in one sequence of ``seq`` tokens, summed over all layers.

    >>> from flopwise.llm.config import spec_from_dims
    >>> spec = spec_from_dims(hidden=64, layers=2, heads=4, vocab=10)
    >>> attention_pairs(spec, 8), attention_pairs(spec, 8, "causal")   # 2·64, 2·36
    (128, 72)
    """
    check_choice(attention, ATTENTION_SQUARES, "--attention")
    if attention == "full" or not spec.causal:
        return spec.layers * seq * seq
    window_layers = spec.sliding_window_layers
    full_layers = spec.layers - window_layers
    pairs = full_layers * _triangle(seq)
    if window_layers and spec.sliding_window is not None:
        pairs += window_layers * _window_pairs(seq, spec.sliding_window)
    return pairs


def _projection_macs_per_token(spec: TransformerSpec) -> int:
    """Q, K, V and output projections of one layer: h·(2·a·d + 2·k·d) MACs per token."""
    return spec.hidden * (2 * spec.q_dim + 2 * spec.kv_dim)


def _mlp_macs_per_token(spec: TransformerSpec) -> int:
    """One layer's MLP per token; a mixture runs the router, the shared expert and top-k experts."""
    if not spec.is_moe:
        matrices = 3 if spec.gated_mlp else 2
        return matrices * spec.hidden * spec.ffn
    router = spec.hidden * spec.experts
    shared = 3 * spec.hidden * spec.shared_expert_ffn + (spec.hidden if spec.shared_expert_gate else 0)
    return router + shared + spec.experts_per_token * expert_params(spec)


@dataclass(frozen=True)
class ForwardFlops:
    """Forward matmul FLOPs of ``batch`` sequences of ``seq`` tokens, by part.

    ``projections`` are the attention's Q/K/V/output matrices, ``attention`` the QKᵀ and AV
    products (``pairs`` query/key pairs per sequence, counted as ``attention_square``), ``mlp``
    the feed-forward (router and experts included), ``lm_head`` the logits, ``pooler`` BERT's
    pooler (once per sequence).
    """

    seq: int
    batch: int
    attention_square: str
    projections: int
    attention: int
    mlp: int
    lm_head: int
    pooler: int

    @property
    def tokens(self) -> int:
        """Tokens in the batch."""
        return self.seq * self.batch

    @property
    def total(self) -> int:
        """All forward matmul FLOPs of the batch."""
        return self.projections + self.attention + self.mlp + self.lm_head + self.pooler

    @property
    def dense(self) -> int:
        """The context-independent matmuls of the blocks (projections + MLP): the ``2N`` part."""
        return self.projections + self.mlp

    @property
    def per_token(self) -> int:
        """Average forward FLOPs per token, pooler excluded (rounded down when not exact)."""
        return (self.total - self.pooler) // self.tokens

    def part_per_token(self, part: str) -> int:
        """One part (``projections``, ``attention``, ``mlp``, ``lm_head``, ``dense``) per token."""
        return int(getattr(self, part)) // self.tokens


def forward_flops(
    spec: TransformerSpec, seq: int, batch: int = 1, attention: str = "full"
) -> ForwardFlops:
    """Forward matmul FLOPs of ``batch`` sequences of ``seq`` tokens, by part.

    >>> from flopwise.llm.config import load_spec
    >>> parts = forward_flops(load_spec("gpt2"), seq=1024)
    >>> parts.lm_head                               # 2 · 1024 · 768 · 50257
    79047426048
    """
    if seq <= 0 or batch <= 0:
        raise UsageError(f"seq and batch must be positive, got seq={seq}, batch={batch}")
    tokens = seq * batch
    pairs = attention_pairs(spec, seq, attention)
    return ForwardFlops(
        seq=seq,
        batch=batch,
        attention_square=attention if spec.causal else "full",
        projections=2 * tokens * spec.layers * _projection_macs_per_token(spec),
        attention=2 * 2 * batch * pairs * spec.q_dim,
        mlp=2 * tokens * spec.layers * _mlp_macs_per_token(spec),
        lm_head=2 * tokens * spec.hidden * spec.vocab if spec.lm_head else 0,
        pooler=2 * batch * spec.hidden * spec.hidden if spec.pooler else 0,
    )


def forward_matmul_flops(
    spec: TransformerSpec, seq: int, batch: int = 1, attention: str = "full"
) -> int:
    """All forward matmul FLOPs of ``batch`` sequences of ``seq`` tokens: 2 per MAC of every
    matrix product (QKᵀ and AV over the full square by default, the LM head included, no
    embeddings, no bias adds).

    This is the number an operator-level counter reports under the ``matmul`` convention for
    the same architecture run on a ``[batch, seq]`` batch of token ids.

    >>> from flopwise.llm.config import load_spec
    >>> forward_matmul_flops(load_spec("llama-2-7b"), seq=2048)
    29261612187648
    """
    return forward_flops(spec, seq, batch, attention).total


def decode_flops_per_token(spec: TransformerSpec, context: int) -> int:
    """Forward matmul FLOPs to generate one token attending to ``context`` cached keys.

    The new query meets ``context`` keys in each layer (at most the window in a sliding-window
    layer): 4·a·d FLOPs per key for QKᵀ and AV, on top of the dense matmuls and the LM head.
    """
    if context <= 0:
        raise UsageError(f"context must be positive, got {context}")
    keys = (spec.layers - spec.sliding_window_layers) * context
    if spec.sliding_window is not None:
        keys += spec.sliding_window_layers * min(context, spec.sliding_window)
    dense = 2 * spec.layers * (_projection_macs_per_token(spec) + _mlp_macs_per_token(spec))
    head = 2 * spec.hidden * spec.vocab if spec.lm_head else 0
    return dense + 4 * keys * spec.q_dim + head


def training_flops(forward: ForwardFlops) -> int:
    """Model FLOPs of one training step: forward + backward = 3 × forward.

    The backward pass of a matmul computes two products of the forward's size (gradient of
    the input and of the weight), so it costs twice the forward.
    """
    return 3 * forward.total


def hardware_training_flops(forward: ForwardFlops, recompute: str = "none") -> int:
    """FLOPs the hardware executes per step, activation recomputation included.

    ``selective`` re-runs the attention products (QKᵀ, AV) in the backward pass;
    ``full`` re-runs the forward of every transformer block (not the LM head or pooler), which
    is Megatron's 4× (their 96·B·s·l·h² formula).
    """
    check_choice(recompute, RECOMPUTE, "--recompute")
    extra = 0
    if recompute == "selective":
        extra = forward.attention
    elif recompute == "full":
        extra = forward.total - forward.lm_head - forward.pooler
    return 3 * forward.total + extra


@dataclass(frozen=True)
class Approximation:
    """A published FLOPs shortcut evaluated for this model, next to flopwise's own count.

    ``per_token`` is training FLOPs per token; ``reference_per_token`` the flopwise count it
    should be compared with (model FLOPs, or hardware FLOPs with full recomputation for
    Megatron's 96 formula); ``ratio = per_token / reference_per_token``.
    """

    name: str
    formula: str
    per_token: int
    reference_per_token: int
    source: str

    @property
    def ratio(self) -> float:
        """The shortcut divided by flopwise's count (1.0 = identical)."""
        return self.per_token / self.reference_per_token


def _verl_dense_params(spec: TransformerSpec) -> int:
    """verl's matmul parameters: both vocabulary matrices, attention and (active) MLP weights."""
    attention = spec.hidden * (2 * spec.q_dim + 2 * spec.kv_dim)
    if spec.is_moe:
        mlp = _mlp_macs_per_token(spec)
    else:
        mlp = dense_mlp_params(spec, spec.ffn, bias=False)
    return 2 * spec.vocab * spec.hidden + spec.layers * (attention + mlp)


def verl_training_flops(spec: TransformerSpec, seq_lens: Sequence[int]) -> int:
    """Training FLOPs of one batch of sequences as verl's FLOPs counter computes them.

    verl (volcengine/verl, ``verl/utils/flops_counter.py``) counts
    ``6·(2·V·h + l·(h·(q+k+v+o) + 3·h·f))·Σ tokens + 12·Σ(len²)·l·a·d``: the embedding and
    the LM head both as matmuls, no biases, the full attention square.

    >>> from flopwise.llm.config import load_spec
    >>> verl_training_flops(load_spec("llama-2-7b"), [512, 1024, 2048])
    153555818250240
    """
    if not seq_lens or any(length <= 0 for length in seq_lens):
        raise UsageError(f"verl needs positive sequence lengths, got {list(seq_lens)}")
    tokens = sum(seq_lens)
    squares = sum(length * length for length in seq_lens)
    dense = 6 * _verl_dense_params(spec) * tokens
    return dense + 12 * squares * spec.layers * spec.heads * spec.head_dim


def approximations(
    spec: TransformerSpec, seq: int, model_per_token: int, recompute_full_per_token: int,
    counts: ParamCounts | None = None,
) -> tuple[Approximation, ...]:
    """The literature's training-FLOPs-per-token shortcuts at context ``seq``.

    ``model_per_token`` is flopwise's training model FLOPs per token (3 × forward) and
    ``recompute_full_per_token`` its hardware FLOPs with full recomputation. N is the active
    parameter count for mixtures of experts.

    >>> from flopwise.llm.config import load_spec
    >>> from flopwise.llm.params import count_params
    >>> spec = load_spec("gpt2")
    >>> fwd = forward_flops(spec, 1024)
    >>> rows = approximations(spec, 1024, 3 * fwd.per_token,
    ...                       hardware_training_flops(fwd, "full") // 1024)
    >>> [row.name for row in rows]
    ['6N', 'Kaplan', 'Megatron-72', 'Megatron-96', 'PaLM', 'verl']
    """
    counts = counts or count_params(spec)
    h, l, s, v = spec.hidden, spec.layers, seq, spec.vocab
    attn_width = spec.q_dim
    n_palm = counts.non_embedding_active + counts.lm_head_matrix
    kaplan_forward = 2 * counts.non_embedding_active + 2 * l * s * attn_width
    return (
        Approximation("6N", "6·N (N = all active parameters)", 6 * counts.active,
                      model_per_token, "Kaplan et al. 2020; Hoffmann et al. 2022"),
        Approximation("Kaplan", "3·(2·N + 2·l·s·a·d), N non-embedding", 3 * kaplan_forward,
                      model_per_token, "Kaplan et al. 2020, Table 1"),
        Approximation("Megatron-72", "72·l·h²·(1 + s/(6h) + V/(12·l·h))",
                      72 * l * h * h + 12 * l * s * h + 6 * v * h,
                      model_per_token, "Narayanan et al. 2021, eq. 3 without recomputation"),
        Approximation("Megatron-96", "96·l·h²·(1 + s/(6h) + V/(16·l·h)), full recompute",
                      96 * l * h * h + 16 * l * s * h + 6 * v * h,
                      recompute_full_per_token, "Narayanan et al. 2021, eq. 3"),
        Approximation("PaLM", "6·N + 12·l·a·d·s, N without lookup-only tables",
                      6 * n_palm + 12 * l * spec.heads * spec.head_dim * s,
                      model_per_token, "Chowdhery et al. 2022, Appendix B"),
        Approximation("verl", "6·(2·V·h + l·(attention + MLP weights)) + 12·s·l·a·d",
                      verl_training_flops(spec, [s]) // s,
                      model_per_token, "volcengine/verl flops_counter"),
    )
