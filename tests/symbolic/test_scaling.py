"""``flopwise.scaling`` on GPT-2 small, BERT-base and a ResNet, with every coefficient derived
by hand from the architecture, and against Megatron-LM's FLOPs formula."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch
import torchvision

import flopwise
from flopwise.errors import NotPolynomialError
from flopwise.symbolic import Scaling

transformers = pytest.importorskip("transformers")

L, H, V = 12, 768, 50257            # GPT-2 small: layers, hidden, vocabulary


def _ids(batch: int = 1, seq: int = 1) -> torch.Tensor:
    return torch.zeros(batch, seq, dtype=torch.long, device="meta")


@pytest.fixture(scope="module")
def gpt2_small() -> Scaling:
    config = transformers.GPT2Config(n_embd=H, n_layer=L, n_head=12, vocab_size=V)
    with torch.device("meta"):
        model = transformers.GPT2LMHeadModel(config).eval()
    return flopwise.scaling(model, _ids, {"batch": 1, "seq": 64}, convention="matmul",
                            max_degree=2, verify=1)


def test_gpt2_small_batch_seq(gpt2_small: Scaling) -> None:
    """Per layer and token: QKV h·3h, attention output h·h, MLP h·4h + 4h·h = 12h² MACs; per
    layer and sequence QKᵀ and the weighted values s·s·h each; the tied LM head h·V per token.
    MACs = (12·L·h² + h·V)·b·s + 2·L·h·b·s²."""
    bs = 12 * L * H * H + H * V
    assert bs == 123_532_032
    assert gpt2_small.macs.terms == {(1, 1): bs, (1, 2): 2 * L * H}
    assert gpt2_small.flops.terms == {(1, 1): 2 * bs, (1, 2): 4 * L * H}   # matmul: 2 per MAC
    modules = {m.name: m.macs.terms for m in gpt2_small.modules}
    assert modules["lm_head"] == {(1, 1): H * V}
    assert modules["transformer"] == {(1, 1): 12 * L * H * H, (1, 2): 2 * L * H}


def test_gpt2_matches_megatron_forward(gpt2_small: Scaling) -> None:
    """Megatron-LM (Narayanan et al. 2021, appendix): a training step is
    72·B·s·l·h²·(1 + s/6h + V/12lh) FLOPs = 3 × the forward's 24·B·s·l·h²·(…) (backward = 2 ×
    forward), counting only the matmuls, 2 FLOPs per MAC, the causal attention as a full square.
    Those are exactly the matmul convention's rules, so the traced forward equals it."""
    for b, s in ((1, 64), (3, 1000), (8, 2048)):
        megatron = Fraction(24 * b * s * L * H * H) * (1 + Fraction(s, 6 * H)
                                                       + Fraction(V, 12 * L * H))
        assert gpt2_small.flops(batch=b, seq=s) == megatron


def test_gpt2_training_matches_megatron_72() -> None:
    """With the backward pass traced (a small GPT-2, to keep the test short): 72·B·s·l·h²·(…)."""
    layers, hidden, vocab = 2, 64, 1000
    config = transformers.GPT2Config(n_embd=hidden, n_layer=layers, n_head=4,
                                     vocab_size=vocab, n_positions=256, bos_token_id=0,
                                     eos_token_id=0)
    with torch.device("meta"):
        model = transformers.GPT2LMHeadModel(config).eval()
    fit = flopwise.scaling(model, _ids, {"batch": 1, "seq": 16}, convention="matmul",
                           backward=True, max_degree=2, verify=1)
    assert fit.flops.terms == {(1, 1): 72 * layers * hidden**2 + 6 * hidden * vocab,
                               (1, 2): 12 * layers * hidden}


def test_bert_base_seq() -> None:
    """BERT-base, batch 1: per layer 12·s·h² + 2·s²·h MACs as GPT-2; the pooler one h×h
    linear on the first token (h², constant)."""
    config = transformers.BertConfig(hidden_size=H, num_hidden_layers=L,
                                     num_attention_heads=12, intermediate_size=4 * H,
                                     vocab_size=30522)
    with torch.device("meta"):
        model = transformers.BertModel(config).eval()
    fit = flopwise.scaling(model, lambda seq: _ids(1, seq), {"seq": 64}, convention="macs",
                           max_degree=2, verify=1)
    assert fit.macs.terms == {(0,): H * H, (1,): 12 * L * H * H, (2,): 2 * L * H}
    assert str(fit.macs) == "589,824 + 84,934,656·seq + 18,432·seq²"


def _resnet18() -> torch.nn.Module:
    with torch.device("meta"):
        return torchvision.models.resnet18().eval()


def _image(side: int) -> torch.Tensor:
    return torch.empty(1, 3, side, side, device="meta")


def test_resnet18_side_on_its_stride_lattice() -> None:
    """Sides that are multiples of the total stride 32: every map is side/2ᵏ, so each conv is
    C_out·C_in·k²·(side/stride)² MACs. conv1 (7×7, 3→64, /2): 64·3·49/4; layer1 (four 3×3
    64→64 at /4): 4·64·64·9/16; layers 2–4 each: a strided 3×3 C→2C, three 3×3 2C→2C and a
    1×1 C→2C downsample at the new stride (all 8,192·side²); fc after the global pool:
    512·1000, whatever the side."""
    fit = flopwise.scaling(_resnet18(), _image, {"side": (224, 32)}, convention="macs",
                           max_degree=2, verify=1)
    conv1 = Fraction(64 * 3 * 49, 4)
    layer1 = Fraction(4 * 64 * 64 * 9, 16)
    layer = Fraction(128 * 64 * 9 + 3 * 128 * 128 * 9 + 128 * 64, 64)   # layer2
    assert layer == 8192
    assert fit.macs.terms == {(0,): 512 * 1000, (2,): conv1 + layer1 + 3 * layer}
    assert fit.macs.coefficient(side=2) == 36_144
    assert fit.macs(side=224) == 1_814_073_344          # torchvision's 1.81 GMACs


def test_resnet_refused_off_its_stride_lattice() -> None:
    """Side 224, 225, …: padding makes output sizes floors of side/stride; refused, saying why
    and what to do."""
    with pytest.raises(NotPolynomialError, match=r"not a polynomial .* in side.*floor.*step"):
        flopwise.scaling(_resnet18(), _image, {"side": 224}, max_degree=2)


def test_round_trip(gpt2_small: Scaling) -> None:
    assert Scaling.from_dict(gpt2_small.to_dict()) == gpt2_small
