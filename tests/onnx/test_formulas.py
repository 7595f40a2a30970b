"""Every ONNX formula called directly on a node of known shapes, against hand-derived counts.

Expectations are arithmetic over the case's dimensions. A meta-test checks that every formula in
the ONNX registry has a case here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from flopwise.formulas import pointwise
from flopwise.formulas.registry import EntryKind
from flopwise.formulas.spec import Cost, TensorSpec
from flopwise.onnx.formulas import (
    ONNX_ONLY_POINTWISE,
    POINTWISE,
    einsum_cost,
    matmul_shapes_cost,
    onnx_registry,
    resize_per_output,
)
from flopwise.onnx.node import OnnxNode, ShapeUnknown


def S(*shape: int, dtype: str = "float32", itemsize: int = 4) -> TensorSpec:
    return TensorSpec(tuple(shape), dtype, itemsize)


def I64(*shape: int) -> TensorSpec:
    return S(*shape, dtype="int64", itemsize=8)


def U8(*shape: int) -> TensorSpec:
    return S(*shape, dtype="uint8", itemsize=1)


@dataclass
class Case:
    id: str
    node: OnnxNode
    expect: dict[str, int]


def N(op: str, inputs, outputs, domain: str = "", **attrs) -> OnnxNode:
    return OnnxNode.of(op, inputs, outputs, domain=domain, **attrs)


LSTM_IN = [S(5, 2, 3), S(1, 16, 3), S(1, 16, 4), S(1, 32)]   # T=5, B=2, E=3, H=4
CASES = [
    # -- convolution: N·Co·∏out·(Ci/g)·∏K; transposed N·Ci·∏in·(Co/g)·∏K ------------------------
    Case("conv-bias", N("Conv", [S(2, 3, 8, 8), S(4, 3, 3, 3), S(4)], [S(2, 4, 8, 8)]),
         {"macs": 2 * 4 * 8 * 8 * 3 * 3 * 3, "dot_outputs": 2 * 4 * 64, "bias_adds": 2 * 4 * 64}),
    Case("conv-depthwise-stride2",
         N("Conv", [S(1, 3, 8, 8), S(3, 1, 3, 3)], [S(1, 3, 4, 4)], group=3),
         {"macs": 1 * 3 * 4 * 4 * 1 * 3 * 3, "dot_outputs": 3 * 16, "bias_adds": 0}),
    Case("conv-transpose", N("ConvTranspose", [S(1, 4, 5, 5), S(4, 2, 3, 3)], [S(1, 2, 11, 11)]),
         {"macs": 1 * 4 * 5 * 5 * 2 * 3 * 3, "dot_outputs": 2 * 11 * 11, "bias_adds": 0}),
    Case("conv-integer", N("ConvInteger", [U8(1, 2, 4, 4), U8(3, 2, 1, 1)],
                           [S(1, 3, 4, 4, dtype="int32")]),
         {"macs": 1 * 3 * 4 * 4 * 2, "bias_adds": 0}),
    Case("qlinear-conv", N("QLinearConv", [U8(1, 2, 4, 4), S(), U8(), U8(3, 2, 1, 1), S(), U8(),
                                           S(), U8(), S(3, dtype="int32")], [U8(1, 3, 4, 4)]),
         {"macs": 1 * 3 * 16 * 2, "bias_adds": 3 * 16}),
    # -- matrix products: M·N·K per batch ------------------------------------------------------
    Case("gemm-bias-transB", N("Gemm", [S(3, 16), S(8, 16), S(8)], [S(3, 8)], transB=1),
         {"macs": 3 * 16 * 8, "dot_outputs": 3 * 8, "bias_adds": 3 * 8}),
    Case("gemm-transA-no-bias", N("Gemm", [S(16, 3), S(16, 8)], [S(3, 8)], transA=1),
         {"macs": 3 * 16 * 8, "bias_adds": 0}),
    Case("gemm-beta-zero", N("Gemm", [S(3, 16), S(16, 8), S(8)], [S(3, 8)], beta=0.0),
         {"macs": 3 * 16 * 8, "bias_adds": 0}),
    Case("matmul-broadcast", N("MatMul", [S(2, 1, 5, 6), S(3, 6, 7)], [S(2, 3, 5, 7)]),
         {"macs": 2 * 3 * 5 * 7 * 6, "dot_outputs": 2 * 3 * 5 * 7}),
    Case("matmul-vector", N("MatMul", [S(6), S(6, 7)], [S(7)]), {"macs": 6 * 7, "dot_outputs": 7}),
    Case("matmul-integer", N("MatMulInteger", [U8(4, 5), U8(5, 6)], [S(4, 6, dtype="int32")]),
         {"macs": 4 * 5 * 6}),
    Case("qlinear-matmul", N("QLinearMatMul", [U8(4, 5), S(), U8(), U8(5, 6), S(), U8(), S(),
                                               U8()], [U8(4, 6)]), {"macs": 4 * 5 * 6}),
    Case("einsum-scores", N("Einsum", [S(2, 4, 5, 8), S(2, 4, 6, 8)], [S(2, 4, 5, 6)],
                            equation="bhqd,bhkd->bhqk"),
         {"macs": 2 * 4 * 5 * 6 * 8, "dot_outputs": 2 * 4 * 5 * 6}),
    Case("einsum-ellipsis", N("Einsum", [S(3, 2, 4), S(3, 4, 5)], [S(3, 2, 5)],
                              equation="...ij,...jk->...ik"),
         {"macs": 3 * 2 * 4 * 5, "dot_outputs": 3 * 2 * 5}),
    Case("einsum-implicit-output", N("Einsum", [S(2, 3), S(3, 4)], [S(2, 4)], equation="ij,jk"),
         {"macs": 2 * 3 * 4, "dot_outputs": 2 * 4}),
    Case("einsum-three-operands", N("Einsum", [S(2, 3), S(3, 4), S(4, 5)], [S(2, 5)],
                                    equation="ij,jk,kl->il"),
         {"macs": 2 * 3 * 4 + 2 * 4 * 5, "dot_outputs": 2 * 4 + 2 * 5}),
    Case("einsum-row-sum", N("Einsum", [S(3, 4)], [S(3)], equation="ij->i"),
         {"macs": 0, "elementwise": 3 * 4}),
    Case("einsum-transpose", N("Einsum", [S(3, 4)], [S(4, 3)], equation="ij->ji"),
         {"macs": 0, "elementwise": 0}),
    # -- attention: QKᵀ B·h·Lq·Lk·d + AV B·h·Lq·Lk·dv; softmax 5 + scale 1 (+ mask 1) per score --
    Case("attention-4d", N("Attention", [S(1, 2, 3, 8), S(1, 2, 4, 8), S(1, 2, 4, 8)],
                           [S(1, 2, 3, 8)]),
         {"macs": 1 * 2 * 3 * 4 * (8 + 8), "elementwise": 1 * 2 * 3 * 4 * (5 + 1)}),
    Case("attention-3d-gqa-past-mask",
         N("Attention", [S(1, 3, 4 * 8), S(1, 5, 2 * 8), S(1, 5, 2 * 8), S(3, 7),
                         S(1, 2, 2, 8), S(1, 2, 2, 8)], [S(1, 3, 32)], q_num_heads=4,
           kv_num_heads=2),
         {"macs": 1 * 4 * 3 * (5 + 2) * (8 + 8), "elementwise": 1 * 4 * 3 * 7 * (5 + 1 + 1)}),
    Case("ms-multihead-attention",
         N("MultiHeadAttention", [S(1, 3, 16), S(1, 4, 16), S(1, 4, 16)], [S(1, 3, 16)],
           domain="com.microsoft", num_heads=2),
         {"macs": 1 * 2 * 3 * 4 * (8 + 8), "elementwise": 1 * 2 * 3 * 4 * (5 + 1)}),
    Case("ms-multihead-attention-bias-past",
         N("MultiHeadAttention", [S(1, 3, 16), S(1, 4, 16), S(1, 4, 16), S(48), None, None,
                                  S(1, 2, 5, 8), S(1, 2, 5, 8)], [S(1, 3, 16)],
           domain="com.microsoft", num_heads=2),
         {"macs": 1 * 2 * 3 * (4 + 5) * (8 + 8),
          "elementwise": 1 * 2 * 3 * 9 * (5 + 1) + (3 * 16 + 4 * 16 + 4 * 16)}),
    Case("ms-multihead-attention-packed-qkv",
         N("MultiHeadAttention", [S(1, 3, 2, 3, 8)], [S(1, 3, 16)], domain="com.microsoft",
           num_heads=2),
         {"macs": 1 * 2 * 3 * 3 * (8 + 8)}),
    Case("ms-attention",
         N("Attention", [S(1, 3, 16), S(16, 48), S(48)], [S(1, 3, 16)], domain="com.microsoft",
           num_heads=2),
         {"macs": 1 * 3 * 16 * 48 + 1 * 2 * 3 * 3 * (8 + 8),
          "dot_outputs": 3 * 48 + (2 * 3 * 3 + 2 * 3 * 8), "bias_adds": 3 * 48,
          "elementwise": 2 * 3 * 3 * (5 + 1)}),
    # -- recurrent: G·H·(E + H) per step and direction; gate arithmetic LSTM 22, GRU 17, RNN 2 --
    Case("lstm", N("LSTM", LSTM_IN, [S(5, 1, 2, 4)], hidden_size=4),
         {"macs": 5 * 2 * 4 * 4 * (3 + 4), "dot_outputs": 2 * 5 * 2 * 16,
          "bias_adds": 2 * 5 * 2 * 16, "elementwise": 5 * 2 * 4 * 22}),
    Case("lstm-bidirectional-batch-first-no-bias",
         N("LSTM", [S(2, 5, 3), S(2, 16, 3), S(2, 16, 4)], [S(2, 5, 2, 4)], hidden_size=4,
           direction="bidirectional", layout=1),
         {"macs": 2 * 5 * 2 * 16 * (3 + 4), "bias_adds": 0, "elementwise": 2 * 5 * 2 * 4 * 22}),
    Case("gru", N("GRU", [S(5, 2, 3), S(1, 12, 3), S(1, 12, 4)], [S(5, 1, 2, 4)], hidden_size=4),
         {"macs": 5 * 2 * 3 * 4 * (3 + 4), "bias_adds": 0, "elementwise": 5 * 2 * 4 * 17}),
    Case("rnn-relu", N("RNN", [S(5, 2, 3), S(1, 4, 3), S(1, 4, 4), S(1, 8)], [S(5, 1, 2, 4)],
                       hidden_size=4, activations=["Relu"]),
         {"macs": 5 * 2 * 4 * (3 + 4), "bias_adds": 2 * 5 * 2 * 4, "elementwise": 5 * 2 * 4 * 2}),
    # -- normalisation: stats 4 + normalise 2 + affine 2 per element --------------------------
    Case("batchnorm-inference", N("BatchNormalization", [S(2, 3, 4, 4), S(3), S(3), S(3), S(3)],
                                  [S(2, 3, 4, 4)]), {"elementwise": (2 + 2) * 2 * 3 * 16}),
    Case("batchnorm-training", N("BatchNormalization", [S(2, 3, 4, 4), S(3), S(3), S(3), S(3)],
                                 [S(2, 3, 4, 4)], training_mode=1),
         {"elementwise": (4 + 2 + 2) * 2 * 3 * 16}),
    Case("layernorm", N("LayerNormalization", [S(2, 5, 8), S(8), S(8)], [S(2, 5, 8)]),
         {"elementwise": (4 + 2 + 2) * 2 * 5 * 8}),
    Case("groupnorm", N("GroupNormalization", [S(2, 4, 3, 3), S(4), S(4)], [S(2, 4, 3, 3)],
                        num_groups=2), {"elementwise": 8 * 2 * 4 * 9}),
    Case("instancenorm", N("InstanceNormalization", [S(2, 4, 3, 3), S(4), S(4)], [S(2, 4, 3, 3)]),
         {"elementwise": 8 * 2 * 4 * 9}),
    Case("mean-variance-norm", N("MeanVarianceNormalization", [S(2, 4, 3, 3)], [S(2, 4, 3, 3)]),
         {"elementwise": (4 + 2) * 2 * 4 * 9}),
    Case("rmsnorm", N("RMSNormalization", [S(2, 5, 8), S(8)], [S(2, 5, 8)]),
         {"elementwise": (2 + 1 + 1) * 2 * 5 * 8}),
    Case("lpnorm", N("LpNormalization", [S(2, 5)], [S(2, 5)]), {"elementwise": 3 * 10}),
    # -- pooling: max ∏K per output; average ∏K + 1; global: one per input (+1 per output) ----
    Case("maxpool", N("MaxPool", [S(1, 2, 4, 4)], [S(1, 2, 2, 2)], kernel_shape=[2, 2]),
         {"elementwise": 1 * 2 * 2 * 2 * (2 * 2)}),
    Case("averagepool", N("AveragePool", [S(1, 2, 4, 4)], [S(1, 2, 4, 4)], kernel_shape=[3, 3]),
         {"elementwise": 1 * 2 * 4 * 4 * (3 * 3 + 1)}),
    Case("globalaveragepool", N("GlobalAveragePool", [S(1, 2, 4, 4)], [S(1, 2, 1, 1)]),
         {"elementwise": 1 * 2 * 16 + 2}),
    Case("globalmaxpool", N("GlobalMaxPool", [S(1, 2, 4, 4)], [S(1, 2, 1, 1)]),
         {"elementwise": 1 * 2 * 16}),
    # -- interpolation: linear 2^(r+1) − 1, cubic 2·4^r − 1, nearest 0 per output -------------
    Case("resize-bilinear", N("Resize", [S(1, 2, 4, 4)], [S(1, 2, 8, 8)], mode="linear"),
         {"elementwise": 7 * 2 * 64}),
    Case("resize-nearest", N("Resize", [S(1, 2, 4, 4)], [S(1, 2, 8, 8)]), {"elementwise": 0}),
    Case("resize-bicubic", N("Resize", [S(1, 2, 4, 4)], [S(1, 2, 8, 8)], mode="cubic"),
         {"elementwise": 31 * 2 * 64}),
    Case("resize-trilinear", N("Resize", [S(1, 1, 2, 2, 2)], [S(1, 1, 4, 4, 4)], mode="linear"),
         {"elementwise": 15 * 64}),
    Case("upsample-linear-1d", N("Upsample", [S(1, 2, 4)], [S(1, 2, 8)], mode="linear"),
         {"elementwise": 3 * 16}),
    # -- softmax, variadic and quantisation ----------------------------------------------------
    Case("softmax", N("Softmax", [S(2, 10)], [S(2, 10)]), {"elementwise": 5 * 20}),
    Case("logsoftmax", N("LogSoftmax", [S(2, 10)], [S(2, 10)]), {"elementwise": 5 * 20}),
    Case("hardmax", N("Hardmax", [S(2, 10)], [S(2, 10)]), {"elementwise": 20}),
    Case("sum-of-three", N("Sum", [S(2, 3)] * 3, [S(2, 3)]), {"elementwise": 2 * 6}),
    Case("max-of-two", N("Max", [S(2, 3)] * 2, [S(2, 3)]), {"elementwise": 6}),
    Case("min-of-two", N("Min", [S(2, 3)] * 2, [S(2, 3)]), {"elementwise": 6}),
    Case("mean-of-three", N("Mean", [S(2, 3)] * 3, [S(2, 3)]), {"elementwise": (2 + 1) * 6}),
    Case("quantize-linear", N("QuantizeLinear", [S(2, 3), S(), U8()], [U8(2, 3)]),
         {"elementwise": 4 * 6}),
    # -- reductions: per input (+ per output) ---------------------------------------------------
    Case("reduce-mean", N("ReduceMean", [S(2, 3, 4)], [S(2, 1, 1)]), {"elementwise": 24 + 2}),
    Case("reduce-sum", N("ReduceSum", [S(2, 3, 4)], [S(2, 1, 1)]), {"elementwise": 24}),
    Case("reduce-max", N("ReduceMax", [S(2, 3, 4)], [S(2, 1, 1)]), {"elementwise": 24}),
    Case("reduce-min", N("ReduceMin", [S(2, 3, 4)], [S(2, 1, 1)]), {"elementwise": 24}),
    Case("reduce-prod", N("ReduceProd", [S(2, 3, 4)], [S(2, 1, 1)]), {"elementwise": 24}),
    Case("reduce-l2", N("ReduceL2", [S(2, 3, 4)], [S(2, 1, 1)]), {"elementwise": 2 * 24 + 2}),
    Case("reduce-logsumexp", N("ReduceLogSumExp", [S(2, 3, 4)], [S(2, 1, 1)]),
         {"elementwise": 4 * 24 + 2}),
    Case("reduce-l1", N("ReduceL1", [S(2, 3, 4)], [S(2, 1, 1)]), {"elementwise": 2 * 24}),
    Case("reduce-sum-square", N("ReduceSumSquare", [S(2, 3, 4)], [S(2, 1, 1)]),
         {"elementwise": 2 * 24}),
    Case("reduce-log-sum", N("ReduceLogSum", [S(2, 3, 4)], [S(2, 1, 1)]), {"elementwise": 24 + 2}),
    Case("argmax", N("ArgMax", [S(2, 3, 4)], [I64(2, 1, 4)]), {"elementwise": 24}),
    Case("argmin", N("ArgMin", [S(2, 3, 4)], [I64(2, 1, 4)]), {"elementwise": 24}),
    Case("cumsum", N("CumSum", [S(2, 3, 4), I64()], [S(2, 3, 4)]), {"elementwise": 24}),
    Case("reduce-integer-is-free", N("ReduceSum", [I64(2, 3)], [I64(2, 1)]), {"elementwise": 0}),
    Case("topk", N("TopK", [S(2, 10), I64(1)], [S(2, 3), I64(2, 3)]), {"elementwise": 20}),
    # -- data: gathers read indices + gathered elements; scatters add per update with reduction -
    Case("gather-rows", N("Gather", [S(10, 4), I64(3)], [S(3, 4)]),
         {"elementwise": 0, "bytes_read": 3 * 8 + 3 * 4 * 4, "bytes_written": 3 * 4 * 4}),
    Case("gather-elements", N("GatherElements", [S(4, 5), I64(4, 2)], [S(4, 2)]),
         {"bytes_read": 8 * 8 + 8 * 4, "bytes_written": 8 * 4}),
    Case("gather-nd", N("GatherND", [S(4, 5), I64(3, 1)], [S(3, 5)]),
         {"bytes_read": 3 * 8 + 15 * 4, "bytes_written": 15 * 4}),
    Case("slice", N("Slice", [S(4, 5), I64(1), I64(1)], [S(2, 5)]),
         {"bytes_read": 8 + 8 + 10 * 4, "bytes_written": 10 * 4}),
    Case("compress", N("Compress", [S(4, 5), S(4, dtype="bool", itemsize=1)], [S(2, 5)], axis=0),
         {"bytes_read": 4 + 10 * 4, "bytes_written": 10 * 4}),
    Case("scatter-nd-add", N("ScatterND", [S(4, 5), I64(3, 1), S(3, 5)], [S(4, 5)],
                             reduction="add"), {"elementwise": 15}),
    Case("scatter-elements-copy", N("ScatterElements", [S(4, 5), I64(2, 5), S(2, 5)], [S(4, 5)]),
         {"elementwise": 0}),
    Case("scatter-legacy", N("Scatter", [S(4, 5), I64(2, 5), S(2, 5)], [S(4, 5)]),
         {"elementwise": 0}),
    # -- elementwise ops with no single torch counterpart ---------------------------------------
    Case("softsign", N("Softsign", [S(2, 3)], [S(2, 3)]), {"elementwise": 3 * 6}),
    Case("shrink", N("Shrink", [S(2, 3)], [S(2, 3)]), {"elementwise": 2 * 6}),
    Case("asinh", N("Asinh", [S(2, 3)], [S(2, 3)]), {"elementwise": 6}),
    Case("acosh", N("Acosh", [S(2, 3)], [S(2, 3)]), {"elementwise": 6}),
    Case("atanh", N("Atanh", [S(2, 3)], [S(2, 3)]), {"elementwise": 6}),
    Case("dequantize-linear", N("DequantizeLinear", [U8(2, 3), S()], [S(2, 3)]),
         {"elementwise": 2 * 6}),
]


def _cost(node: OnnxNode) -> Cost:
    entry = onnx_registry().lookup(node.key)
    assert entry is not None and entry.formula is not None, node.key
    return entry.formula(node)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_formula(case: Case) -> None:
    cost = _cost(case.node)
    assert {field: getattr(cost, field) for field in case.expect} == case.expect


# Hand-derived per-element costs for a selection of the pointwise table (the rest are checked
# to equal the torch op they map to, below).
POINTWISE_LITERALS = {"Add": 1, "Relu": 1, "Tanh": 1, "Sigmoid": 4, "Gelu": 5, "LeakyRelu": 2,
                      "HardSwish": 4, "Swish": 5, "Clip": 1, "Erf": 1, "Softsign": 3}


@pytest.mark.parametrize("op", sorted({**POINTWISE, **ONNX_ONLY_POINTWISE}))
def test_pointwise_costs_per_output_element(op: str) -> None:
    node = N(op, [S(2, 3), S(2, 3)], [S(2, 3)])
    per_element = (pointwise.PER_ELEMENT[POINTWISE[op]] if op in POINTWISE
                   else ONNX_ONLY_POINTWISE[op])
    assert _cost(node).elementwise == per_element * 2 * 3
    if op in POINTWISE_LITERALS:
        assert per_element == POINTWISE_LITERALS[op]


@pytest.mark.parametrize("op", ["Equal", "Less", "Greater", "IsNaN", "Relu"])
def test_non_float_outputs_cost_nothing(op: str) -> None:
    boolean = S(2, 3, dtype="bool", itemsize=1) if op != "Relu" else S(2, 3, dtype="int32")
    assert _cost(N(op, [S(2, 3), S(2, 3)], [boolean])).elementwise == 0


def test_every_onnx_formula_has_a_case() -> None:
    covered = {case.node.key for case in CASES} | set(POINTWISE) | set(ONNX_ONLY_POINTWISE)
    formulas = {e.key for e in onnx_registry().entries() if e.kind is EntryKind.FORMULA}
    assert formulas - covered == set()


def test_missing_shape_raises_shape_unknown() -> None:
    node = OnnxNode("Relu", "r", "", ("x",), ("y",), (S(2),), (None,), {})
    with pytest.raises(ShapeUnknown) as raised:
        _cost(node)
    assert raised.value.value == "y"


# -- pure helpers --------------------------------------------------------------------------------
def test_matmul_shapes_cost_promotes_and_broadcasts() -> None:
    assert matmul_shapes_cost((5,), (5,)).macs == 5                # dot product
    assert matmul_shapes_cost((4, 5), (5,)).macs == 4 * 5          # matrix-vector
    assert matmul_shapes_cost((2, 1, 3, 4), (1, 5, 4, 6)).macs == 2 * 5 * 3 * 4 * 6
    with pytest.raises(ValueError):
        matmul_shapes_cost((2, 3, 4), (3, 4, 5))


def test_einsum_two_operands_is_the_product_of_all_index_sizes() -> None:
    # b=2, i=3, j=4, k=5: every (b, i, j, k) is one multiply-accumulate
    assert einsum_cost("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]).macs == 2 * 3 * 4 * 5
    # an index summed in one operand only still multiplies in: i=2, j=3, k=4
    assert einsum_cost("ij,jk->i", [(2, 3), (3, 4)]).macs == 2 * 3 * 4
    # broadcasting a size-1 ellipsis dimension
    assert einsum_cost("...ij,...jk->...ik", [(1, 2, 3), (4, 3, 5)]).macs == 4 * 2 * 3 * 5


def test_resize_per_output_matches_the_torch_interpolation_table() -> None:
    assert [resize_per_output("linear", r) for r in (1, 2, 3)] == [3, 7, 15]
    assert resize_per_output("cubic", 2) == 31
    assert resize_per_output("linear", 4) == 2 ** 5 - 1
    with pytest.raises(ValueError):
        resize_per_output("area", 2)


def test_data_ops_are_declared_zero() -> None:
    registry = onnx_registry()
    for op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Shape", "Constant"):
        entry = registry.lookup(op)
        assert entry.kind is EntryKind.ZERO and not entry.moves_data, op
    for op in ("Transpose", "Concat", "Cast", "Expand", "Pad", "Split", "Tile"):
        entry = registry.lookup(op)
        assert entry.kind is EntryKind.ZERO and entry.moves_data, op


def test_registry_copy_is_independent() -> None:
    registry = onnx_registry()
    registry.register("custom.Thing", family="custom")(lambda node: Cost())
    assert "custom.Thing" in registry and "custom.Thing" not in onnx_registry()
