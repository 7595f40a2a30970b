"""Matmul and convolution formulas: hand-derived MACs, dot products and bias adds."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.formulas.support import Direct, Run, S, check_direct, check_run, covered

r = torch.randn

MATMUL = [
    # [3,4] @ [4,5]: 3·5 outputs of 4 terms
    Run("mm", torch.mm, lambda: (r(3, 4), r(4, 5)), ("aten.mm",),
        {"macs": 3 * 4 * 5, "dot_outputs": 3 * 5, "bias_adds": 0}),
    Run("matmul-operator-2d", lambda a, b: a @ b, lambda: (r(3, 4), r(4, 5)), ("aten.mm",),
        {"macs": 60}),
    Run("addmm", torch.addmm, lambda: (r(5), r(3, 4), r(4, 5)), ("aten.addmm",),
        {"macs": 60, "dot_outputs": 15, "bias_adds": 15}),
    # nn.Linear on a [2,3,4] input: 2·3 rows, 4 → 5 features
    Run("linear-3d", F.linear, lambda: (r(2, 3, 4), r(5, 4), r(5)), ("aten.addmm",),
        {"macs": 2 * 3 * 4 * 5, "bias_adds": 2 * 3 * 5}),
    Run("bmm", torch.bmm, lambda: (r(2, 3, 4), r(2, 4, 5)), ("aten.bmm",),
        {"macs": 2 * 3 * 4 * 5, "dot_outputs": 2 * 3 * 5}),
    Run("baddbmm", torch.baddbmm, lambda: (r(2, 3, 5), r(2, 3, 4), r(2, 4, 5)), ("aten.baddbmm",),
        {"macs": 120, "dot_outputs": 30, "bias_adds": 30}),
    # Σ over the batch of two [3,4]@[4,5] into one [3,5]
    Run("addbmm", torch.addbmm, lambda: (r(3, 5), r(2, 3, 4), r(2, 4, 5)), ("aten.addbmm",),
        {"macs": 120, "dot_outputs": 15, "bias_adds": 15}),
    Run("mv", torch.mv, lambda: (r(3, 4), r(4)), ("aten.mv",), {"macs": 12, "dot_outputs": 3}),
    Run("addmv", torch.addmv, lambda: (r(3), r(3, 4), r(4)), ("aten.addmv",),
        {"macs": 12, "dot_outputs": 3, "bias_adds": 3}),
    Run("dot", torch.dot, lambda: (r(4), r(4)), ("aten.dot",), {"macs": 4, "dot_outputs": 1}),
    Run("vdot", torch.vdot, lambda: (r(4), r(4)), ("aten.vdot",), {"macs": 4, "dot_outputs": 1}),
    Run("addr", torch.addr, lambda: (r(3, 5), r(3), r(5)), ("aten.addr",),
        {"macs": 15, "dot_outputs": 15, "bias_adds": 15}),
    # broadcasting: [2,1,3,4] @ [5,4,6] → 2·5 products of [3,4]@[4,6]
    Run("matmul-broadcast", torch.matmul, lambda: (r(2, 1, 3, 4), r(5, 4, 6)),
        ("aten.bmm",), {"macs": 2 * 5 * 3 * 4 * 6}),
    # [4] @ [2,4,5]: the vector is a [1,4] row for each of 2 batches
    Run("matmul-vector-batch", torch.matmul, lambda: (r(4), r(2, 4, 5)),
        ("aten.bmm",), {"macs": 2 * 4 * 5}),
    Run("einsum-bmm", lambda a, b: torch.einsum("bij,bjk->bik", a, b),
        lambda: (r(2, 3, 4), r(2, 4, 5)), ("aten.bmm",), {"macs": 120}),
    # an einsum contracting two indices: i,j,k,l with ijk,jkl->il: 2·3·4·5 MACs
    Run("einsum-two-indices", lambda a, b: torch.einsum("ijk,jkl->il", a, b),
        lambda: (r(2, 3, 4), r(3, 4, 5)), ("aten.bmm",), {"macs": 2 * 3 * 4 * 5}),
]

def _bf16(*shape):
    return torch.empty(*shape, dtype=torch.bfloat16, device="meta")


_OFFSETS = torch.empty(3, dtype=torch.int32, device="meta")

MATMUL += [
    # mixture-of-experts grouped GEMM (bf16, on meta): 6 token rows, each through one of 3
    # experts' [8, 8] weights: 6·8·8 MACs
    Run("grouped-mm-2d-3d", lambda a, b: torch._grouped_mm(a, b, offs=_OFFSETS),
        lambda: (_bf16(6, 8), _bf16(3, 8, 8).transpose(1, 2)), ("aten._grouped_mm",),
        {"macs": 6 * 8 * 8, "dot_outputs": 6 * 8}),
    # batched: 3 groups of [2, 8] @ [8, 8]
    Run("grouped-mm-3d-3d", lambda a, b: torch._grouped_mm(a, b),
        lambda: (_bf16(3, 2, 8), _bf16(3, 8, 8).transpose(1, 2)), ("aten._grouped_mm",),
        {"macs": 3 * 2 * 8 * 8}),
    # weight gradient form: [8, 16] @ [16, 8] with the 16 rows split among 3 groups → 3 outputs
    # of [8, 8]; the 16 shared terms are spread over the groups: 8·8·16 MACs in all
    Run("grouped-mm-2d-2d", lambda a, b: torch._grouped_mm(a, b, offs=_OFFSETS),
        lambda: (_bf16(16, 8).t(), _bf16(16, 8)), ("aten._grouped_mm",),
        {"macs": 8 * 8 * 16, "dot_outputs": 3 * 8 * 8}),
    # nn.Bilinear(4, 5, 2) on N=3: aten._trilinear loops over the O=2 outputs; per output it
    # contracts x1·W over I (3·5 dots of 4 terms) then with x2 over J (3 dots of 5 terms) and adds
    # the slice into the output (3 adds): N·O·J·(I+1) = 3·2·5·5 = 150 MACs, 2·(15+3) = 36 dots,
    # N·O = 6 adds
    Run("bilinear-forward", lambda a, b, w: torch.nn.functional.bilinear(a, b, w),
        lambda: (r(3, 4), r(3, 5), r(2, 4, 5)), ("aten._trilinear",),
        {"macs": 150, "dot_outputs": 36, "elementwise": 6}),
    # backward: three more _trilinear calls, each unrolled over O = 2, per slice:
    # grad x1: g·W multiply [3,1,4,5] (60), then ·x2 over J: 60 MACs, 12 dots, 12 adds
    # grad W:  x1·g multiply [3,1,4,1] (12), then ·x2 over N: 60 MACs, 20 dots, 20 adds
    # grad x2: x1·W over I: 60 MACs, 15 dots; then ·g multiply (15), 15 adds
    Run("bilinear-backward", lambda a, b, w: torch.nn.functional.bilinear(a, b, w),
        lambda: (r(3, 4, requires_grad=True), r(3, 5, requires_grad=True),
                 r(2, 4, 5, requires_grad=True)),
        ("aten._trilinear",),
        {"macs": 2 * (60 + 60 + 60), "dot_outputs": 2 * (12 + 20 + 15),
         "elementwise": 2 * ((60 + 12) + (12 + 20) + (15 + 15))},
        backward=True, phase="backward"),
    # a summed dim only i2 has: out[n] = a[n]·Σ_j b[n,j]·c[n], unrolled over n (2 slices);
    # per slice: b's row summed first (3 adds), a·Σb one MAC (one dot), ·c one multiply,
    # the slice added in (1): 2 MACs, 2 dots, 2·(3+1+1) = 10 elementwise
    Run("trilinear-presum", lambda a, b, c: torch.ops.aten._trilinear(a, b, c, [1], [], [1], [1], 0),
        lambda: (r(2), r(2, 3), r(2)), ("aten._trilinear",),
        {"macs": 2, "dot_outputs": 2, "elementwise": 10}),
]

MATMUL_DIRECT = [
    Direct("int-mm", ("aten._int_mm",), S(32, 16, dtype="int32"),
           (S(32, 64, dtype="int8", itemsize=1), S(64, 16, dtype="int8", itemsize=1)),
           {"macs": 32 * 64 * 16, "dot_outputs": 32 * 16}),
    Direct("scaled-mm", ("aten._scaled_mm",), S(16, 32, dtype="bfloat16", itemsize=2),
           (S(16, 64, dtype="float8_e4m3fn", itemsize=1), S(64, 32, dtype="float8_e4m3fn",
                                                              itemsize=1), S(), S()),
           {"macs": 16 * 64 * 32, "dot_outputs": 16 * 32, "bias_adds": 0}),
    Direct("linear-op", ("aten.linear",), S(2, 3, 5), (S(2, 3, 4), S(5, 4), S(5)),
           {"macs": 120, "dot_outputs": 30, "bias_adds": 30}),
]


def _conv(module_factory, shape, requires_grad=False):
    torch.manual_seed(0)
    module = module_factory()

    def make():
        return (r(*shape, requires_grad=requires_grad),)

    return module, make


CONV = [
    # Conv2d(3→8, 3×3, pad 1) on [2,3,10,10]: out [2,8,10,10]; each output 3·9 terms
    Run("conv2d", lambda x, w, b: F.conv2d(x, w, b, padding=1),
        lambda: (r(2, 3, 10, 10), r(8, 3, 3, 3), r(8)), ("aten.convolution",),
        {"macs": 2 * 8 * 100 * 3 * 9, "dot_outputs": 2 * 8 * 100, "bias_adds": 2 * 8 * 100}),
    # grouped: 4→8 channels in 2 groups, 3×3, [1,4,6,6] → [1,8,4,4]; 2 input channels per group
    Run("conv2d-grouped", lambda x, w: F.conv2d(x, w, groups=2),
        lambda: (r(1, 4, 6, 6), r(8, 2, 3, 3)), ("aten.convolution",),
        {"macs": 8 * 16 * 2 * 9, "bias_adds": 0}),
    # depthwise: 4 groups of 1, pad 1: [1,4,5,5] → [1,4,5,5]
    Run("conv2d-depthwise", lambda x, w: F.conv2d(x, w, padding=1, groups=4),
        lambda: (r(1, 4, 5, 5), r(4, 1, 3, 3)), ("aten.convolution",), {"macs": 4 * 25 * 9}),
    # stride 2, dilation 2 on 11×11: effective kernel 5, out ⌊(11−5)/2⌋+1 = 4
    Run("conv2d-strided-dilated", lambda x, w: F.conv2d(x, w, stride=2, dilation=2),
        lambda: (r(1, 2, 11, 11), r(3, 2, 3, 3)), ("aten.convolution",),
        {"macs": 3 * 16 * 2 * 9, "dot_outputs": 3 * 16}),
    Run("conv1d", F.conv1d, lambda: (r(1, 2, 10), r(4, 2, 3)), ("aten.convolution",),
        {"macs": 4 * 8 * 2 * 3}),
    # Conv3d 2→3, kernel (2,3,3) on [1,2,4,5,5]: out [1,3,3,3,3]
    Run("conv3d", F.conv3d, lambda: (r(1, 2, 4, 5, 5), r(3, 2, 2, 3, 3)), ("aten.convolution",),
        {"macs": 3 * 27 * 2 * 18}),
    # transposed 4→2, 3×3, stride 2 on [1,4,5,5]: each of 4·25 inputs scatters to 2·9 outputs;
    # out [1,2,11,11]
    Run("conv-transpose2d", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2),
        lambda: (r(1, 4, 5, 5), r(4, 2, 3, 3), r(2)), ("aten.convolution",),
        {"macs": 4 * 25 * 2 * 9, "dot_outputs": 2 * 121, "bias_adds": 2 * 121}),
    # transposed, 2 groups: weight [Ci=4, Co/g=3, 3]; [1,4,7] → [1,6,9]
    Run("conv-transpose1d-grouped", lambda x, w: F.conv_transpose1d(x, w, groups=2),
        lambda: (r(1, 4, 7), r(4, 3, 3)), ("aten.convolution",), {"macs": 4 * 7 * 3 * 3}),
    # backward of conv2d above with input, weight and bias gradients: 2× forward MACs,
    # the bias gradient sums the 2·8·100 output gradients
    Run("conv2d-backward", lambda x, w, b: F.conv2d(x, w, b, padding=1),
        lambda: (r(2, 3, 10, 10, requires_grad=True), r(8, 3, 3, 3, requires_grad=True),
                 r(8, requires_grad=True)),
        ("aten.convolution_backward",),
        {"macs": 2 * (2 * 8 * 100 * 3 * 9), "dot_outputs": 2 * 3 * 100 + 8 * 3 * 9,
         "elementwise": 2 * 8 * 100},
        backward=True, phase="backward"),
]

CONV_DIRECT = [
    Direct("_convolution", ("aten._convolution",), S(2, 8, 10, 10),
           (S(2, 3, 10, 10), S(8, 3, 3, 3), S(8), [1, 1], [1, 1], [1, 1], False, [0, 0], 1),
           {"macs": 2 * 8 * 100 * 27, "bias_adds": 1600}),
]

COVERS = covered(MATMUL, MATMUL_DIRECT, CONV, CONV_DIRECT)


@pytest.mark.parametrize("case", MATMUL + CONV, ids=lambda c: c.id)
def test_run(case):
    check_run(case)


@pytest.mark.parametrize("case", MATMUL_DIRECT + CONV_DIRECT, ids=lambda c: c.id)
def test_direct(case):
    check_direct(case)
