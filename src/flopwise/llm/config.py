"""The architecture description the planner works from, and how to get one.

A :class:`TransformerSpec` is a frozen record of everything that changes a transformer's cost:
widths, depths, attention layout (heads, grouped-query KV heads, head size, sliding window), MLP
shape (plain or gated, dense or mixture of experts), which projections carry biases, how the
vocabulary is embedded (tied or untied head, learned positions, token types) and the norms.

It is built from a Hugging Face ``config.json`` (:func:`spec_from_hf_config`, :func:`load_spec`),
from a built-in preset (:func:`load_spec` with a preset name) or from explicit dimensions
(:func:`spec_from_dims`).

>>> spec = load_spec("llama-2-7b")
>>> spec.hidden, spec.layers, spec.heads, spec.kv_heads, spec.head_dim, spec.ffn
(4096, 32, 32, 32, 128, 11008)
>>> spec_from_dims(hidden=4096, layers=32, heads=32, vocab=32000).ffn   # Llama's 8h/3 rule
11008
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from flopwise.errors import ConfigError, UsageError
from flopwise.llm.presets import close_matches, preset_config, preset_source
from flopwise.models.hf_config import config_path, model_type_of, read_config

__all__ = [
    "TransformerSpec",
    "SUPPORTED_MODEL_TYPES",
    "spec_from_hf_config",
    "spec_from_dims",
    "load_spec",
    "override_spec",
    "gated_ffn_size",
]

NORMS = ("layernorm", "rmsnorm")


@dataclass(frozen=True)
class TransformerSpec:
    """Everything about a transformer's architecture that changes what it costs.

    Attention uses ``heads`` query heads and ``kv_heads`` key/value heads of size ``head_dim``
    (``kv_heads < heads`` is grouped-query attention). Norms have a weight and, with
    ``norm_bias``, a bias (LayerNorm usually has one, RMSNorm never). The MLP has ``ffn``
    inner features and is gated (SwiGLU-style: gate, up and down matrices) or plain (up and
    down). With
    ``experts > 0`` every block's MLP is a mixture of ``experts`` gated experts of size
    ``expert_ffn``, of which ``experts_per_token`` run per token, plus an optional always-on
    shared expert of size ``shared_expert_ffn``. ``source`` says where the numbers come from
    (a preset's link, a config path, "explicit dimensions").
    """

    name: str
    model_type: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int
    max_positions: int | None = None
    causal: bool = True
    gated_mlp: bool = True
    norm: str = "rmsnorm"
    norm_bias: bool = False
    qkv_bias: bool = False
    out_bias: bool = False
    mlp_bias: bool = False
    tied_embeddings: bool = False
    lm_head: bool = True
    learned_positions: int = 0
    token_types: int = 0
    embedding_norm: bool = False
    final_norm: bool = True
    pooler: bool = False
    relative_attention_buckets: int = 0
    experts: int = 0
    experts_per_token: int = 0
    expert_ffn: int = 0
    shared_expert_ffn: int = 0
    shared_expert_gate: bool = False
    sliding_window: int | None = None
    sliding_window_layers: int = 0
    attention_dropout: bool = False
    hidden_dropout: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("hidden", "layers", "heads", "kv_heads", "head_dim", "ffn", "vocab"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(
                    f"{self.name}: {name} must be a positive integer, got {value!r}; "
                    "fix the config or pass a positive value"
                )
        if self.heads % self.kv_heads:
            raise ConfigError(
                f"{self.name}: {self.heads} attention heads cannot be grouped over "
                f"{self.kv_heads} key/value heads; kv_heads must divide heads"
            )
        if self.norm not in NORMS:
            raise ConfigError(f"{self.name}: norm must be one of {', '.join(NORMS)}, got {self.norm!r}")
        self._check_moe()
        self._check_window()

    def _check_moe(self) -> None:
        if self.experts == 0:
            if self.experts_per_token or self.shared_expert_ffn:
                raise ConfigError(
                    f"{self.name}: experts_per_token/shared_expert_ffn need experts > 0; "
                    "set the number of experts (--experts)"
                )
            return
        if not 0 < self.experts_per_token <= self.experts:
            raise ConfigError(
                f"{self.name}: top-k {self.experts_per_token} must be between 1 and the "
                f"{self.experts} experts; fix num_experts_per_tok (--top-k)"
            )
        if self.expert_ffn <= 0:
            raise ConfigError(f"{self.name}: expert_ffn must be positive with experts > 0")

    def _check_window(self) -> None:
        if self.sliding_window is not None and self.sliding_window <= 0:
            raise ConfigError(
                f"{self.name}: sliding window must be a positive number of tokens, "
                f"got {self.sliding_window}; use --window N or drop it"
            )
        if not 0 <= self.sliding_window_layers <= self.layers:
            raise ConfigError(
                f"{self.name}: {self.sliding_window_layers} sliding-window layers out of "
                f"{self.layers}; must be between 0 and the number of layers"
            )
        if self.sliding_window is None and self.sliding_window_layers:
            raise ConfigError(f"{self.name}: sliding_window_layers set without a sliding window")

    @property
    def q_dim(self) -> int:
        """Width of all query heads together (``heads · head_dim``)."""
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of all key (or all value) heads together (``kv_heads · head_dim``)."""
        return self.kv_heads * self.head_dim

    @property
    def is_moe(self) -> bool:
        """Whether the MLPs are mixtures of experts."""
        return self.experts > 0

    @property
    def decoder(self) -> bool:
        """Whether the model generates text (causal and with an LM head): it has a KV cache."""
        return self.causal and self.lm_head

    def describe(self) -> str:
        """One line: ``llama · 32 layers · hidden 4096 · 32/8 heads × 128 · gated ffn 14336 · ...``."""
        parts = [
            self.model_type,
            f"{self.layers} layers",
            f"hidden {self.hidden}",
            f"{self.heads}/{self.kv_heads} heads × {self.head_dim}",
            f"{'gated ' if self.gated_mlp else ''}ffn {self.ffn}",
            f"vocab {self.vocab}",
        ]
        if self.is_moe:
            moe = f"{self.experts} experts (top-{self.experts_per_token}, ffn {self.expert_ffn})"
            if self.shared_expert_ffn:
                moe += f" + shared ffn {self.shared_expert_ffn}"
            parts.append(moe)
        if self.sliding_window is not None:
            parts.append(f"window {self.sliding_window} on {self.sliding_window_layers} layers")
        parts.append("tied" if self.tied_embeddings else ("untied" if self.lm_head else "no LM head"))
        parts.append("causal" if self.causal else "bidirectional")
        return " · ".join(parts)


# ---------------------------------------------------------------------------------------------
# Hugging Face config.json


class _Fields:
    """Read fields of one config, naming the missing one in the error."""

    def __init__(self, config: Mapping[str, Any], where: str) -> None:
        self.config = config
        self.where = where
        self.model_type = str(config.get("model_type", ""))

    def need(self, *keys: str) -> Any:
        """The first present, non-null key of ``keys``; a ConfigError naming it if none is."""
        for key in keys:
            if self.config.get(key) is not None:
                return self.config[key]
        raise ConfigError(
            f"{self.where}: missing field '{keys[0]}' required for model_type "
            f"'{self.model_type}'; add it to the config"
        )

    def integer(self, *keys: str) -> int:
        value = self.need(*keys)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ConfigError(f"{self.where}: field '{keys[0]}' must be an integer, got {value!r}")
        return int(value)

    def get(self, key: str, default: Any) -> Any:
        value = self.config.get(key)
        return default if value is None else value

    def flag(self, key: str, default: bool) -> bool:
        return bool(self.get(key, default))

    def dropout(self, key: str) -> bool:
        return float(self.get(key, 0.0)) > 0.0


def _llama_family(f: _Fields, name: str) -> TransformerSpec:
    """llama, mistral, mixtral, qwen2, qwen2_moe: RMSNorm, gated MLP, rotary positions."""
    hidden = f.integer("hidden_size")
    heads = f.integer("num_attention_heads")
    head_dim = f.get("head_dim", None)
    kv_heads = f.get("num_key_value_heads", heads)
    model_type = f.model_type
    if model_type == "llama":
        qkv_bias = out_bias = f.flag("attention_bias", False)
    elif model_type == "qwen2":
        qkv_bias, out_bias = True, False
    elif model_type == "qwen2_moe":
        qkv_bias, out_bias = f.flag("qkv_bias", True), False
    else:
        qkv_bias = out_bias = False
    layers = f.integer("num_hidden_layers")
    window, window_layers = _sliding_window(f, layers)
    return TransformerSpec(
        name=name,
        model_type=model_type,
        hidden=hidden,
        layers=layers,
        heads=heads,
        kv_heads=int(kv_heads),
        head_dim=int(head_dim) if head_dim is not None else hidden // heads,
        ffn=f.integer("intermediate_size"),
        vocab=f.integer("vocab_size"),
        max_positions=f.get("max_position_embeddings", None),
        norm="rmsnorm",
        qkv_bias=qkv_bias,
        out_bias=out_bias,
        mlp_bias=f.flag("mlp_bias", False) if model_type == "llama" else False,
        tied_embeddings=f.flag("tie_word_embeddings", False),
        sliding_window=window,
        sliding_window_layers=window_layers,
        attention_dropout=f.dropout("attention_dropout"),
        **_moe_fields(f),
    )


def _sliding_window(f: _Fields, layers: int) -> tuple[int | None, int]:
    """The window and how many layers use it (Mistral: all; Qwen2: per ``layer_types``)."""
    model_type = f.model_type
    if model_type in ("qwen2", "qwen2_moe"):
        if not f.flag("use_sliding_window", False):
            return None, 0
        window = f.get("sliding_window", None)
        if not window:
            return None, 0
        layer_types = f.get("layer_types", None)
        if layer_types is not None:
            count = sum(1 for kind in layer_types if kind == "sliding_attention")
        else:
            count = max(0, layers - int(f.get("max_window_layers", layers)))
        return (int(window), count) if count else (None, 0)
    if model_type in ("mistral", "mixtral"):
        window = f.get("sliding_window", None)
        return (int(window), layers) if window else (None, 0)
    return None, 0


def _moe_fields(f: _Fields) -> dict[str, Any]:
    if f.model_type == "mixtral":
        return {
            "experts": f.integer("num_local_experts"),
            "experts_per_token": f.integer("num_experts_per_tok"),
            "expert_ffn": f.integer("intermediate_size"),
        }
    if f.model_type == "qwen2_moe":
        if f.get("mlp_only_layers", []) or int(f.get("decoder_sparse_step", 1)) != 1:
            raise ConfigError(
                f"{f.where}: qwen2_moe with dense layers mixed in (mlp_only_layers / "
                "decoder_sparse_step) is not supported; plan it with every layer sparse"
            )
        shared = int(f.get("shared_expert_intermediate_size", 0))
        return {
            "experts": f.integer("num_experts"),
            "experts_per_token": f.integer("num_experts_per_tok"),
            "expert_ffn": f.integer("moe_intermediate_size"),
            "shared_expert_ffn": shared,
            "shared_expert_gate": shared > 0,
        }
    return {}


def _gpt2(f: _Fields, name: str) -> TransformerSpec:
    """GPT-2 (and GPT-3 as a dense GPT-2): LayerNorm, plain GELU MLP, learned positions, biases."""
    hidden = f.integer("n_embd", "hidden_size")
    heads = f.integer("n_head", "num_attention_heads")
    positions = f.integer("n_positions", "max_position_embeddings")
    return TransformerSpec(
        name=name,
        model_type="gpt2",
        hidden=hidden,
        layers=f.integer("n_layer", "num_hidden_layers"),
        heads=heads,
        kv_heads=heads,
        head_dim=hidden // heads,
        ffn=int(f.get("n_inner", 4 * hidden)),
        vocab=f.integer("vocab_size"),
        max_positions=positions,
        gated_mlp=False,
        norm="layernorm",
        norm_bias=True,
        qkv_bias=True,
        out_bias=True,
        mlp_bias=True,
        tied_embeddings=f.flag("tie_word_embeddings", True),
        learned_positions=positions,
        attention_dropout=f.dropout("attn_pdrop"),
        hidden_dropout=f.dropout("resid_pdrop"),
    )


def _gpt_neox(f: _Fields, name: str) -> TransformerSpec:
    """GPT-NeoX / Pythia: LayerNorm, plain GELU MLP with biases, rotary positions, untied head."""
    hidden = f.integer("hidden_size")
    heads = f.integer("num_attention_heads")
    attention_bias = f.flag("attention_bias", True)
    return TransformerSpec(
        name=name,
        model_type="gpt_neox",
        hidden=hidden,
        layers=f.integer("num_hidden_layers"),
        heads=heads,
        kv_heads=heads,
        head_dim=hidden // heads,
        ffn=f.integer("intermediate_size"),
        vocab=f.integer("vocab_size"),
        max_positions=f.get("max_position_embeddings", None),
        gated_mlp=False,
        norm="layernorm",
        norm_bias=True,
        qkv_bias=attention_bias,
        out_bias=attention_bias,
        mlp_bias=True,
        tied_embeddings=f.flag("tie_word_embeddings", False),
        attention_dropout=f.dropout("attention_dropout"),
        hidden_dropout=f.dropout("hidden_dropout"),
    )


def _bert(f: _Fields, name: str) -> TransformerSpec:
    """BERT / RoBERTa encoders as ``BertModel``: post-LayerNorm, biases, pooler, no LM head."""
    hidden = f.integer("hidden_size")
    heads = f.integer("num_attention_heads")
    positions = f.integer("max_position_embeddings")
    return TransformerSpec(
        name=name,
        model_type=f.model_type,
        hidden=hidden,
        layers=f.integer("num_hidden_layers"),
        heads=heads,
        kv_heads=heads,
        head_dim=hidden // heads,
        ffn=f.integer("intermediate_size"),
        vocab=f.integer("vocab_size"),
        max_positions=positions,
        causal=False,
        gated_mlp=False,
        norm="layernorm",
        norm_bias=True,
        qkv_bias=True,
        out_bias=True,
        mlp_bias=True,
        lm_head=False,
        learned_positions=positions,
        token_types=int(f.get("type_vocab_size", 2)),
        embedding_norm=True,
        final_norm=False,
        pooler=True,
        attention_dropout=f.dropout("attention_probs_dropout_prob"),
        hidden_dropout=f.dropout("hidden_dropout_prob"),
    )


def _t5_encoder(f: _Fields, name: str) -> TransformerSpec:
    """The encoder stack of T5 / mT5 (``T5EncoderModel``): RMS norms, relative position bias."""
    heads = f.integer("num_heads")
    return TransformerSpec(
        name=name,
        model_type=f.model_type,
        hidden=f.integer("d_model"),
        layers=f.integer("num_layers"),
        heads=heads,
        kv_heads=heads,
        head_dim=f.integer("d_kv"),
        ffn=f.integer("d_ff"),
        vocab=f.integer("vocab_size"),
        causal=False,
        gated_mlp=str(f.get("feed_forward_proj", "relu")).startswith("gated-"),
        norm="rmsnorm",
        lm_head=False,
        relative_attention_buckets=int(f.get("relative_attention_num_buckets", 32)),
        attention_dropout=f.dropout("dropout_rate"),
        hidden_dropout=f.dropout("dropout_rate"),
    )


_PARSERS: dict[str, Callable[[_Fields, str], TransformerSpec]] = {
    "llama": _llama_family,
    "mistral": _llama_family,
    "mixtral": _llama_family,
    "qwen2": _llama_family,
    "qwen2_moe": _llama_family,
    "gpt2": _gpt2,
    "gpt_neox": _gpt_neox,
    "bert": _bert,
    "roberta": _bert,
    "t5": _t5_encoder,
    "mt5": _t5_encoder,
}

SUPPORTED_MODEL_TYPES: tuple[str, ...] = tuple(sorted(_PARSERS))


def spec_from_hf_config(
    config: Mapping[str, Any], name: str = "config", where: str | None = None
) -> TransformerSpec:
    """Build a spec from the fields of a Hugging Face ``config.json`` (already parsed).

    T5-style configs give the encoder stack only; BERT-style configs give ``BertModel`` (with
    its pooler, without a masked-LM head).

    >>> spec = spec_from_hf_config({"model_type": "gpt2", "n_embd": 768, "n_layer": 12,
    ...                             "n_head": 12, "n_positions": 1024, "vocab_size": 50257})
    >>> spec.ffn, spec.tied_embeddings
    (3072, True)
    """
    where = where or name
    model_type = model_type_of(config, where, ", ".join(SUPPORTED_MODEL_TYPES))
    parser = _PARSERS.get(str(model_type))
    if parser is None:
        hint = close_matches(str(model_type), SUPPORTED_MODEL_TYPES)
        raise ConfigError(
            f"{where}: model_type '{model_type}' is not supported by the planner{hint}; "
            f"supported: {', '.join(SUPPORTED_MODEL_TYPES)}, or pass explicit dimensions "
            "(--hidden --layers --heads --vocab ...)"
        )
    return parser(_Fields(config, where), name)


def load_spec(model: str | Path) -> TransformerSpec:
    """A spec from a preset name (``"llama-3-8b"``) or a path to a ``config.json`` (or its folder).

    >>> load_spec("mixtral-8x7b").experts
    8
    """
    text = str(model)
    path = config_path(text, "a preset name")
    if path is not None:
        label = path.parent.name if path.name == "config.json" and path.parent.name else path.stem
        spec = spec_from_hf_config(read_config(path), label or "config", str(path))
        return replace(spec, source=str(path))
    name = text.lower()
    spec = spec_from_hf_config(preset_config(name), name)
    return replace(spec, source=preset_source(name))


# ---------------------------------------------------------------------------------------------
# Explicit dimensions


def gated_ffn_size(hidden: int, multiple_of: int = 256) -> int:
    """Llama's default gated-MLP width: 8h/3 rounded up to a multiple of ``multiple_of``.

    >>> gated_ffn_size(4096)
    11008
    """
    target = (8 * hidden + 2) // 3  # ceil(8h/3)
    return -(-target // multiple_of) * multiple_of


def spec_from_dims(
    *,
    hidden: int,
    layers: int,
    heads: int,
    vocab: int,
    kv_heads: int | None = None,
    head_dim: int | None = None,
    ffn: int | None = None,
    gated: bool = True,
    bias: bool = False,
    tied: bool = False,
    experts: int = 0,
    top_k: int = 0,
    expert_ffn: int | None = None,
    shared_expert_ffn: int = 0,
    window: int | None = None,
    max_positions: int | None = None,
    name: str = "custom",
) -> TransformerSpec:
    """A decoder from explicit dimensions: Llama-style by default (gated MLP, RMSNorm, rotary).

    ``ffn`` defaults to 4h for a plain MLP and to Llama's 8h/3 (rounded up to 256) when gated.
    ``bias=True`` puts biases on every projection (GPT-2 style).

    >>> spec = spec_from_dims(hidden=768, layers=12, heads=12, vocab=50257, gated=False,
    ...                       bias=True, tied=True)
    >>> spec.ffn, spec.norm
    (3072, 'rmsnorm')
    """
    if ffn is None:
        ffn = gated_ffn_size(hidden) if gated else 4 * hidden
    if head_dim is None:
        if heads <= 0 or hidden % heads:
            raise UsageError(
                f"hidden {hidden} is not divisible by {heads} heads; pass --head-dim explicitly"
            )
        head_dim = hidden // heads
    return TransformerSpec(
        name=name,
        model_type="custom",
        hidden=hidden,
        layers=layers,
        heads=heads,
        kv_heads=heads if kv_heads is None else kv_heads,
        head_dim=head_dim,
        ffn=ffn,
        vocab=vocab,
        max_positions=max_positions,
        gated_mlp=gated,
        qkv_bias=bias,
        out_bias=bias,
        mlp_bias=bias,
        tied_embeddings=tied,
        experts=experts,
        experts_per_token=top_k if experts else 0,
        expert_ffn=(expert_ffn or ffn) if experts else 0,
        shared_expert_ffn=shared_expert_ffn if experts else 0,
        shared_expert_gate=False,
        sliding_window=window,
        sliding_window_layers=layers if window is not None else 0,
        source="explicit dimensions",
    )


_OVERRIDABLE = {field.name for field in fields(TransformerSpec)} - {"name", "model_type", "source"}


def override_spec(spec: TransformerSpec, **changes: Any) -> TransformerSpec:
    """``spec`` with some dimensions replaced (``None`` values are ignored).

    Changing ``hidden`` or ``heads`` without ``head_dim`` recomputes ``head_dim = hidden //
    heads``; changing ``heads`` of a multi-head (not grouped) model keeps ``kv_heads = heads``
    unless ``kv_heads`` is given; a window applies to every layer.

    >>> override_spec(load_spec("llama-2-7b"), kv_heads=8).kv_heads
    8
    """
    given = {key: value for key, value in changes.items() if value is not None}
    unknown = sorted(set(given) - _OVERRIDABLE)
    if unknown:
        raise UsageError(f"cannot override {', '.join(unknown)}: not a TransformerSpec field")
    if not given:
        return spec
    if ("hidden" in given or "heads" in given) and "head_dim" not in given:
        hidden = given.get("hidden", spec.hidden)
        heads = given.get("heads", spec.heads)
        if hidden % heads:
            raise UsageError(f"hidden {hidden} is not divisible by {heads} heads; pass --head-dim")
        given["head_dim"] = hidden // heads
    if "heads" in given and "kv_heads" not in given and spec.kv_heads == spec.heads:
        given["kv_heads"] = given["heads"]
    if "sliding_window" in given and "sliding_window_layers" not in given:
        given["sliding_window_layers"] = given.get("layers", spec.layers)
    if "experts" in given and given["experts"] and not spec.is_moe:
        given.setdefault("expert_ffn", given.get("ffn", spec.ffn))
        given.setdefault("experts_per_token", 1)
    changed = ", ".join(sorted(given))
    source = f"{spec.source} (overridden: {changed})" if spec.source else f"overridden: {changed}"
    return replace(spec, source=source, **given)
