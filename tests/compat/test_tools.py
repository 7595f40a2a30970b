"""The ``fvcore`` and ``thop`` conventions, on small models whose counts are derived by hand
from each tool's rules (fvcore 0.1.5 ``jit_handles.py``; thop 0.1.1 ``basic_hooks.py``,
``calc_func.py``, ``rnn_hooks.py``). The peer benchmark compares them with the tools
themselves (bench/peers/conventions.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import flopwise

N, C, HW, OUT = 2, 8, 8, 4
ELEMENTS = N * C * HW * HW            # the conv output: 2·8·8·8 = 1024
CONV_MACS = ELEMENTS * 3 * 3 * 3      # each output: 3 input channels × 3×3 taps
LINEAR_MACS = N * C * OUT


class Head(nn.Module):
    """A functional linear layer: thop cannot see it (no listed module), fvcore can."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(OUT, OUT))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight)


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, C, 3, padding=1), nn.BatchNorm2d(C), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(C, OUT),
                         nn.Softmax(dim=-1), Head()).eval()


@pytest.fixture(scope="module")
def report() -> flopwise.Report:
    return flopwise.profile(_net(), torch.randn(N, 3, HW, HW), convention="macs")


def test_fvcore(report: flopwise.Report) -> None:
    batch_norm = 2 * ELEMENTS            # running statistics, affine: 2 per input element
    pool = ELEMENTS                      # adaptive average pooling: 1 per input element
    head = N * OUT * OUT                 # F.linear is aten::linear: counted
    expected = CONV_MACS + batch_norm + pool + LINEAR_MACS + head   # softmax, ReLU: 0
    assert report.using("fvcore").total.flops == expected == 27_648 + 2_048 + 1_024 + 64 + 32


def test_thop(report: flopwise.Report) -> None:
    batch_norm = 2 * ELEMENTS * 2        # 2 per element, ×2 affine
    pool = (HW * HW + 1) * N * C         # (window 8·8 + 1 division) per output element
    softmax = N * (3 * OUT - 1)          # per row: exp n + (n − 1) adds + n divisions
    expected = CONV_MACS + batch_norm + pool + LINEAR_MACS + softmax   # Head: not listed
    assert report.using("thop").total.flops == expected == 27_648 + 4_096 + 1_040 + 64 + 22


def test_per_module_and_op_sum_to_total(report: flopwise.Report) -> None:
    for name in ("fvcore", "thop"):
        seen = report.using(name)
        assert sum(row.self_flops for row in seen.modules()) == seen.total.flops
        assert sum(row.flops for row in seen.ops()) == seen.total.flops
        assert seen.module("1").flops == {"fvcore": 2 * ELEMENTS, "thop": 4 * ELEMENTS}[name]


@pytest.mark.parametrize(("norm", "fvcore_per", "thop_per"), [
    (nn.LayerNorm(HW), 5, 4),                                 # affine: fvcore 4 + 1, thop 2·2
    (nn.LayerNorm(HW, elementwise_affine=False), 4, 2),
    (nn.GroupNorm(2, C), 5, 0),                               # GroupNorm is not in thop's table
    (nn.BatchNorm2d(C).train(), 5, 4),                        # batch statistics: fvcore 4 + 1
    (nn.InstanceNorm2d(C), 4, 2),                             # batch norm below autograd
], ids=["layernorm", "layernorm-plain", "groupnorm", "batchnorm-train", "instancenorm"])
def test_norms(norm: nn.Module, fvcore_per: int, thop_per: int) -> None:
    x = torch.randn(N, C, HW, HW)
    report = flopwise.profile(norm, x)
    assert report.using("fvcore").total.flops == fvcore_per * x.numel()
    assert report.using("thop").total.flops == thop_per * x.numel()


@pytest.mark.parametrize(("mode", "fvcore_per", "thop_per"), [
    ("nearest", 1, 1), ("bilinear", 4, 11), ("bicubic", 0, 259),
])
def test_upsampling(mode: str, fvcore_per: int, thop_per: int) -> None:
    up = nn.Upsample(scale_factor=2, mode=mode)
    report = flopwise.profile(up, torch.randn(1, C, HW, HW))
    outputs = C * (2 * HW) ** 2
    assert report.using("fvcore").total.flops == fvcore_per * outputs
    assert report.using("thop").total.flops == thop_per * outputs


def test_lstm() -> None:
    """thop's LSTM cell: 4·((E + H)·H + H + 2H) + 3H + H per step, sample, layer; fvcore has no
    handle for aten::lstm (0)."""
    e, h, layers, steps, batch = 6, 5, 2, 3, 2
    lstm = nn.LSTM(e, h, num_layers=layers, batch_first=True)
    report = flopwise.profile(lstm, torch.randn(batch, steps, e))

    def cell(inputs: int) -> int:
        return 4 * ((inputs + h) * h + h + 2 * h) + 3 * h + h

    assert report.using("thop").total.flops == steps * batch * (cell(e) + cell(h))
    assert report.using("fvcore").total.flops == 0


def test_transposed_convolution() -> None:
    """thop counts every convolution as output elements · C_in/groups · kernel."""
    deconv = nn.ConvTranspose2d(4, 6, 2, stride=2)
    report = flopwise.profile(deconv, torch.randn(1, 4, 5, 5))
    assert report.total.macs == 4 * 5 * 5 * 6 * 2 * 2          # input elements · C_out · k
    assert report.using("thop").total.flops == 6 * 10 * 10 * 4 * 2 * 2
    assert report.using("fvcore").total.flops == report.total.macs


def test_forward_only() -> None:
    """Both tools count one forward call: backward ops count 0."""
    report = flopwise.profile(nn.Linear(8, 4), torch.randn(3, 8), backward=True)
    for name in ("fvcore", "thop"):
        seen = report.using(name)
        assert seen.total.flops == 3 * 8 * 4
        assert seen.phases["backward"].flops == 0


def test_attention_is_uncounted_by_both() -> None:
    """fvcore has no handle for aten::scaled_dot_product_attention; thop no module for it."""
    q = torch.randn(1, 2, 4, 8)
    report = flopwise.profile(
        lambda q: nn.functional.scaled_dot_product_attention(q, q, q), (q,))
    assert report.total.macs == 2 * (2 * 4 * 4 * 8)            # QKᵀ and the weighted sum
    assert report.using("fvcore").total.flops == report.using("thop").total.flops == 0


def test_manifest_names_the_tool_version() -> None:
    manifest = flopwise.profile(nn.Linear(2, 2), torch.randn(1, 2),
                                convention="thop").to_dict()["convention_manifest"]
    assert manifest["tool"] == "thop 0.1.1.post2209072238"
    assert any("Softmax" in line for line in manifest["not_reproduced"])
