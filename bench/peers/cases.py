"""The models of the peer benchmark and the reference cost of each.

Two kinds of reference:

* torchvision classification models: the published ``weights.meta["_ops"]`` (billions of MACs of
  convolutions, linear layers and matmuls, at the weights' evaluation crop) and
  ``meta["num_params"]``, read from the installed torchvision (no download).
* everything else: hand formulas, derived below next to each builder, in MACs (one multiply-add
  = 1) of the contractions only — what torchvision's ``_ops`` counts, so that every row of the
  accuracy table means the same thing.

A case builds its model on ``cpu`` (random weights, seeded) or on ``meta`` (no memory), in
``eval()`` mode, with batch 1 inputs unless its docstring says otherwise.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["VISION_MODELS", "Built", "Case", "all_cases", "case_by_name", "tolerance_macs"]

#: torchvision models in the benchmark: a spread of families, sizes and op mixes.
VISION_MODELS: tuple[str, ...] = (
    "alexnet", "vgg16", "resnet18", "resnet50", "squeezenet1_1",
    "googlenet", "inception_v3", "densenet121", "mobilenet_v2", "mobilenet_v3_large",
    "mobilenet_v3_small", "shufflenet_v2_x1_0", "mnasnet1_0", "efficientnet_b0",
    "regnet_y_400mf", "convnext_tiny", "vit_b_16", "swin_t", "maxvit_t",
)

#: The published ``_ops`` has three decimals (GMACs): its rounding is ±0.0005e9 MACs.
PUBLISHED_ROUNDING_MACS = 500_000
RELATIVE_TOLERANCE = 0.005


@dataclass
class Built:
    """A model ready to call: ``model(*args, **kwargs)``."""

    model: torch.nn.Module
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    """One benchmark model.

    Attributes:
        name: row label.
        family: ``vision``, ``rnn`` or ``transformer``.
        build: ``build(device)`` with device ``"cpu"`` or ``"meta"``.
        ref_macs: the reference MACs (``None``: no reference).
        ref_params: the reference parameter count.
        ref_source: where the reference comes from, for the docs.
        meta_only: too large to run for real here (no forward pass, no timing ratio).
        rounding_macs: absolute rounding of a published reference (0 for exact formulas).
    """

    name: str
    family: str
    build: Callable[[str], Built]
    ref_macs: int | None
    ref_params: int | None
    ref_source: str
    meta_only: bool = False
    rounding_macs: int = 0


def tolerance_macs(case: Case) -> float:
    """How far a count may be from the reference: max(0.5 %·ref, rounding of the reference)."""
    if case.ref_macs is None:
        return 0.0
    return max(RELATIVE_TOLERANCE * case.ref_macs, float(case.rounding_macs))


# -- torchvision ----------------------------------------------------------------------------------
def _default_weights(name: str) -> Any:
    from torchvision.models import get_model_weights

    return get_model_weights(name).DEFAULT


def _vision_builder(name: str) -> Callable[[str], Built]:
    def build(device: str) -> Built:
        from flopwise.models import build_torchvision

        weights = _default_weights(name)
        crop = weights.transforms().crop_size[0]
        torch.manual_seed(0)
        with warnings.catch_warnings(), torch.device(device):
            warnings.simplefilter("ignore")
            model = build_torchvision(name, weights)
        x = torch.randn(1, 3, crop, crop, device=device) if device != "meta" else \
            torch.empty(1, 3, crop, crop, device="meta")
        return Built(model.eval(), (x,))

    return build


def _vision_case(name: str) -> Case:
    weights = _default_weights(name)
    return Case(
        name=name, family="vision", build=_vision_builder(name),
        ref_macs=round(weights.meta["_ops"] * 1e9), ref_params=weights.meta["num_params"],
        ref_source=f"torchvision {weights} `_ops`, crop {weights.transforms().crop_size[0]}",
        rounding_macs=PUBLISHED_ROUNDING_MACS,
    )


# -- LSTM -----------------------------------------------------------------------------------------
LSTM_INPUT, LSTM_HIDDEN, LSTM_LAYERS, LSTM_SEQ, LSTM_BATCH = 256, 512, 2, 64, 8


class LstmModel(torch.nn.Module):
    """A 2-layer LSTM returning its output sequence (a plain tensor, so every tool can take it)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(LSTM_INPUT, LSTM_HIDDEN, num_layers=LSTM_LAYERS, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]


def lstm_macs(e: int, h: int, layers: int, steps: int, batch: int) -> int:
    """Per time step and sample an LSTM layer computes four gates, each ``W_i·x + W_h·h``:
    ``4·(E·H + H·H)`` MACs (the bias adds and the gate nonlinearities are elementwise). Layer 1
    reads the input (E), the later layers read the previous layer's output (H)."""
    per_step = 4 * (e * h + h * h) + (layers - 1) * 4 * (h * h + h * h)
    return steps * batch * per_step


def lstm_params(e: int, h: int, layers: int) -> int:
    """``4H·(E + H)`` weights and two ``4H`` biases per layer; later layers have E = H."""
    first = 4 * h * (e + h) + 8 * h
    return first + (layers - 1) * (4 * h * (h + h) + 8 * h)


def _build_lstm(device: str) -> Built:
    torch.manual_seed(0)
    with torch.device(device):
        model = LstmModel()
    x = torch.randn(LSTM_BATCH, LSTM_SEQ, LSTM_INPUT, device=device) if device != "meta" else \
        torch.empty(LSTM_BATCH, LSTM_SEQ, LSTM_INPUT, device="meta")
    return Built(model.eval(), (x,))


# -- transformers ---------------------------------------------------------------------------------
TEXT_SEQ = 64  # GPT-2 and BERT run for real: a short sequence keeps the benchmark affordable
LLAMA_SEQ = 2048


def gpt2_macs(layers: int, s: int, h: int, vocab: int) -> int:
    """GPT-2 (``GPT2LMHeadModel``), one sequence of ``s`` tokens, hidden ``h``, MLP ``4h``:

    per layer: the fused QKV projection ``s·h·3h``, the attention output ``s·h·h`` and the MLP
    ``s·h·4h + s·4h·h`` — together ``12·s·h²`` — plus attention scores ``QKᵀ`` (``s·s·h`` over
    all heads) and the weighted sum of values (``s·s·h``): ``2·s²·h``. Then the (tied) LM head
    ``s·h·V``. Embedding lookups, layer norms, GELU, softmax and residual adds are not MACs.
    """
    return layers * (12 * s * h * h + 2 * s * s * h) + s * h * vocab


def bert_macs(layers: int, s: int, h: int) -> int:
    """BERT-base (``BertModel`` with its pooler), one sequence of ``s`` tokens: each encoder layer
    is ``12·s·h² + 2·s²·h`` as in GPT-2 (Q, K, V, output: ``4·s·h²``; FFN ``8·s·h²``; scores
    and values ``2·s²·h``); the pooler is one ``h×h`` linear layer on the first token: ``h²``."""
    return layers * (12 * s * h * h + 2 * s * s * h) + h * h


def llama_macs(layers: int, s: int, h: int, heads: int, kv_heads: int, ffn: int, vocab: int) -> int:
    """Llama-2 (``LlamaForCausalLM``, no biases), one sequence of ``s`` tokens, head dim
    ``d = h/heads``: per layer the projections Q and O ``s·h·h`` each, K and V ``s·h·(kv·d)``
    each (grouped-query attention), the gated MLP (gate, up, down) ``3·s·h·ffn``, and attention
    ``2·s²·h`` (the causal mask counted as the full square, as the math kernel computes it);
    then the LM head ``s·h·V``. RMSNorm, SiLU, the gate product and the rotary embedding are
    elementwise (transformers 5 builds the rotary angles as an elementwise product, not a
    matmul)."""
    d = h // heads
    projections = s * h * (2 * h + 2 * kv_heads * d)
    return layers * (projections + 3 * s * h * ffn + 2 * s * s * h) + s * h * vocab


def _hf_builder(kind: str, config_kwargs: dict[str, Any], seq: int,
                traceable: bool = True) -> Callable[[str], Built]:
    def build(device: str) -> Built:
        import transformers

        config_cls, model_cls = {
            "gpt2": (transformers.GPT2Config, transformers.GPT2LMHeadModel),
            "bert": (transformers.BertConfig, transformers.BertModel),
            "llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM),
        }[kind]
        # NB: use_cache=False changes no arithmetic; it keeps a KV-cache object out of the
        # output, which the tracing tools (fvcore, torchprofile) cannot trace. On meta (and for
        # Llama, which only runs there) the default stays: without a cache, transformers checks
        # position_ids for packed sequences with a data-dependent .all(), which no meta tensor
        # can answer (and the tracing tools cannot run on meta anyway).
        extra = {"use_cache": False} if traceable and device != "meta" else {}
        config = config_cls(**config_kwargs, **extra)
        torch.manual_seed(0)
        with torch.device(device):
            model = model_cls(config)
        ids = torch.zeros(1, seq, dtype=torch.long, device=device)
        return Built(model.eval(), (ids,))

    return build


GPT2 = {"n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257}
BERT = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
        "intermediate_size": 3072, "vocab_size": 30522}
LLAMA_2_7B = {"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
              "num_key_value_heads": 32, "intermediate_size": 11008, "vocab_size": 32000}
LLAMA_2_70B = {"hidden_size": 8192, "num_hidden_layers": 80, "num_attention_heads": 64,
               "num_key_value_heads": 8, "intermediate_size": 28672, "vocab_size": 32000}


def _llama_case(name: str, cfg: dict[str, int], params: int) -> Case:
    macs = llama_macs(cfg["num_hidden_layers"], LLAMA_SEQ, cfg["hidden_size"],
                      cfg["num_attention_heads"], cfg["num_key_value_heads"],
                      cfg["intermediate_size"], cfg["vocab_size"])
    return Case(name, "transformer", _hf_builder("llama", cfg, LLAMA_SEQ, traceable=False),
                macs, params,
                f"hand formula (`llama_macs`), seq {LLAMA_SEQ}, meta device; params: "
                "check-values.md", meta_only=True)


def _text_cases() -> list[Case]:
    return [
        Case("lstm-2x512", "rnn", _build_lstm,
             lstm_macs(LSTM_INPUT, LSTM_HIDDEN, LSTM_LAYERS, LSTM_SEQ, LSTM_BATCH),
             lstm_params(LSTM_INPUT, LSTM_HIDDEN, LSTM_LAYERS),
             f"hand formula (`lstm_macs`): {LSTM_LAYERS} layers {LSTM_INPUT}→{LSTM_HIDDEN}, "
             f"seq {LSTM_SEQ}, batch {LSTM_BATCH}"),
        Case("gpt2", "transformer", _hf_builder("gpt2", GPT2, TEXT_SEQ),
             gpt2_macs(12, TEXT_SEQ, 768, 50257), 124_439_808,
             f"hand formula (`gpt2_macs`), seq {TEXT_SEQ}; params: check-values.md"),
        Case("bert-base", "transformer", _hf_builder("bert", BERT, TEXT_SEQ),
             bert_macs(12, TEXT_SEQ, 768), 109_482_240,
             f"hand formula (`bert_macs`), seq {TEXT_SEQ}; params: check-values.md"),
        _llama_case("llama-2-7b", LLAMA_2_7B, 6_738_415_616),
        _llama_case("llama-2-70b", LLAMA_2_70B, 68_976_648_192),
    ]


def all_cases() -> list[Case]:
    """Every case, vision first."""
    return [_vision_case(name) for name in VISION_MODELS] + _text_cases()


def case_by_name(name: str) -> Case:
    """One case by its row label."""
    for case in all_cases():
        if case.name == name:
            return case
    raise KeyError(name)
