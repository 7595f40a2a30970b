"""Parameter counts of a :class:`TransformerSpec`, exactly as the framework would allocate them.

Every count is the number of elements of the weights and biases the architecture defines, so it
equals ``sum(p.numel() for p in model.parameters())`` of the Hugging Face model built from the
same config (a tied LM head shares the embedding table and is counted once).

>>> from flopwise.llm.config import load_spec
>>> counts = count_params(load_spec("gpt2"))
>>> counts.total                      # GPT-2 small, HF GPT2LMHeadModel
124439808
>>> counts.per_block                  # 12h² + 13h at h = 768
7087872
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from flopwise.llm.config import TransformerSpec

__all__ = [
    "ParamCounts",
    "count_params",
    "attention_params",
    "mlp_params",
    "dense_mlp_params",
    "expert_params",
    "norm_params",
]


@dataclass(frozen=True)
class ParamCounts:
    """Parameter counts by part. ``embedding + non_embedding == total``.

    ``embedding`` holds every vocabulary and position table: the token table, learned position
    and token-type tables, T5's relative-position bias table and an *untied* LM head matrix.
    ``non_embedding`` (Kaplan et al.'s N) is everything else: the blocks, final and embedding
    norms, a pooler. ``active`` is what one token uses: with a mixture of experts, only
    ``experts_per_token`` experts of each block count.
    """

    total: int
    active: int
    embedding: int
    non_embedding: int
    non_embedding_active: int
    token_embedding: int
    position_embedding: int
    lm_head: int
    lm_head_matrix: int
    per_block: int
    per_block_active: int
    attention_per_block: int
    mlp_per_block: int
    mlp_per_block_active: int
    norms_per_block: int
    blocks: int
    other: int

    def to_dict(self) -> dict[str, int]:
        """The counts as a plain dict of ints."""
        return asdict(self)


def norm_params(spec: TransformerSpec) -> int:
    """One norm: a weight (h) and, for a LayerNorm with bias, a bias (h)."""
    return 2 * spec.hidden if spec.norm_bias else spec.hidden


def attention_params(spec: TransformerSpec) -> int:
    """Q, K, V and output projections: h·(a·d) + 2·h·(k·d) + (a·d)·h, plus their biases."""
    weights = 2 * spec.hidden * spec.q_dim + 2 * spec.hidden * spec.kv_dim
    biases = (spec.q_dim + 2 * spec.kv_dim if spec.qkv_bias else 0) + (spec.hidden if spec.out_bias else 0)
    return weights + biases


def dense_mlp_params(spec: TransformerSpec, ffn: int, bias: bool | None = None) -> int:
    """A dense MLP of ``ffn`` inner features: 3·h·f gated (gate, up, down), 2·h·f plain."""
    with_bias = spec.mlp_bias if bias is None else bias
    if spec.gated_mlp:
        return 3 * spec.hidden * ffn + ((2 * ffn + spec.hidden) if with_bias else 0)
    return 2 * spec.hidden * ffn + ((ffn + spec.hidden) if with_bias else 0)


def expert_params(spec: TransformerSpec) -> int:
    """One routed expert: a gated MLP of ``expert_ffn`` features (no biases)."""
    return 3 * spec.hidden * spec.expert_ffn


def _moe_always_on(spec: TransformerSpec) -> int:
    """Router (h·E), shared expert (3·h·f_shared) and its sigmoid gate (h): used by every token."""
    router = spec.hidden * spec.experts
    shared = 3 * spec.hidden * spec.shared_expert_ffn
    shared_gate = spec.hidden if spec.shared_expert_gate else 0
    return router + shared + shared_gate


def mlp_params(spec: TransformerSpec, *, active: bool = False) -> int:
    """The MLP of one block: dense, or router + experts (+ shared expert) for a mixture.

    ``active=True`` counts only the ``experts_per_token`` experts one token runs through.
    """
    if not spec.is_moe:
        return dense_mlp_params(spec, spec.ffn)
    experts = spec.experts_per_token if active else spec.experts
    return _moe_always_on(spec) + experts * expert_params(spec)


def _embedding_tables(spec: TransformerSpec) -> tuple[int, int]:
    """(token table, position-like tables): learned positions, token types, T5 relative bias."""
    token = spec.vocab * spec.hidden
    positions = (spec.learned_positions + spec.token_types) * spec.hidden
    positions += spec.relative_attention_buckets * spec.heads
    return token, positions


def _other_params(spec: TransformerSpec) -> int:
    """Outside the blocks and tables: final norm, embedding norm, pooler (h·h + h)."""
    other = norm_params(spec) if spec.final_norm else 0
    other += norm_params(spec) if spec.embedding_norm else 0
    other += spec.hidden * spec.hidden + spec.hidden if spec.pooler else 0
    return other


def count_params(spec: TransformerSpec) -> ParamCounts:
    """Count the parameters of ``spec`` by part.

    >>> from flopwise.llm.config import load_spec
    >>> llama = count_params(load_spec("llama-2-7b"))
    >>> llama.total, llama.lm_head                     # untied head: 32000 · 4096
    (6738415616, 131072000)
    >>> mixtral = count_params(load_spec("mixtral-8x7b"))
    >>> mixtral.total, mixtral.active
    (46702792704, 12879925248)
    """
    norms = 2 * norm_params(spec)
    attention = attention_params(spec)
    mlp = mlp_params(spec)
    mlp_active = mlp_params(spec, active=True)
    per_block = attention + mlp + norms
    per_block_active = attention + mlp_active + norms
    token, positions = _embedding_tables(spec)
    lm_head_matrix = spec.vocab * spec.hidden if spec.lm_head else 0
    lm_head = 0 if spec.tied_embeddings else lm_head_matrix
    other = _other_params(spec)
    embedding = token + positions + lm_head
    non_embedding = spec.layers * per_block + other
    non_embedding_active = spec.layers * per_block_active + other
    return ParamCounts(
        total=embedding + non_embedding,
        active=embedding + non_embedding_active,
        embedding=embedding,
        non_embedding=non_embedding,
        non_embedding_active=non_embedding_active,
        token_embedding=token,
        position_embedding=positions,
        lm_head=lm_head,
        lm_head_matrix=lm_head_matrix,
        per_block=per_block,
        per_block_active=per_block_active,
        attention_per_block=attention,
        mlp_per_block=mlp,
        mlp_per_block_active=mlp_active,
        norms_per_block=norms,
        blocks=spec.layers * per_block,
        other=other,
    )
