"""Whole ONNX graphs written with onnx.helper: symbolic dims resolved by input shapes, the
name-scope tree, parameters from initializers, bytes, errors, and non-intrusion.

Every expectation is arithmetic over the graph's dimensions.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import flopwise
from flopwise.capture.events import Status
from flopwise.errors import ModelLoadError, UnsupportedOpsError, UsageError
from flopwise.onnx import parse_input_shapes, profile_onnx
from tests.onnx.builders import INT64, Typed, graph_model, ints, node, single, weights


def _events(report: flopwise.Report, op: str) -> list:
    return [e for e in report.events if e.op == op]


# -- contractions, with a symbolic batch dimension ------------------------------------------------
def _conv_model():
    return single("Conv", {"x": ["batch", 3, 8, 8]},
                  {"w": weights(4, 3, 3, 3), "b": weights(4, seed=1)},
                  name="/stem/conv/Conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3])


def test_conv_with_symbolic_batch() -> None:
    report = profile_onnx(_conv_model(), {"x": (2, 3, 8, 8)})
    macs = 2 * 4 * 8 * 8 * 3 * 3 * 3                     # N·Co·H·W·Ci·K²
    outputs = 2 * 4 * 8 * 8
    assert report.total.macs == macs == 13824
    assert report.total.flops == 2 * macs                # standard: bias folded into the pair
    assert report.using("exact").total.flops == (2 * 27 - 1 + 1) * outputs
    assert report.using("macs").total.flops == macs
    assert report.total.params == 4 * 3 * 3 * 3 + 4
    row = report.module("stem.conv")
    assert (row.type, row.macs, row.params) == ("Conv", macs, 112)
    assert report.run.mode == "onnx" and report.run.inputs == ((2, 3, 8, 8),)
    # bytes: x, w, b read; y written (float32)
    assert report.total.bytes_read == 4 * (2 * 3 * 64 + 108 + 4)
    assert report.total.bytes_written == 4 * outputs


def test_symbol_bound_by_name() -> None:
    report = profile_onnx(_conv_model(), {"batch": (5,)})
    assert report.total.macs == 5 * 4 * 8 * 8 * 3 * 3 * 3
    assert report.run.inputs == ((5, 3, 8, 8),)


def test_unresolved_symbolic_dimension_names_it_and_the_flag() -> None:
    with pytest.raises(UsageError) as raised:
        profile_onnx(_conv_model())
    message = str(raised.value)
    assert "'batch'" in message and "'x'" in message and "--input x=Nx3x8x8" in message
    assert "\n" not in message


@pytest.mark.parametrize("shapes, fragment", [
    ({"x": (2, 3, 8)}, "rank 4"),
    ({"x": (2, 4, 8, 8)}, "dimension 1 is fixed to 3"),
    ({"y": (1, 3, 8, 8)}, "names no graph input"),
], ids=["wrong-rank", "fixed-dim", "unknown-name"])
def test_bad_input_shapes_are_usage_errors(shapes, fragment) -> None:
    with pytest.raises(UsageError, match=fragment):
        profile_onnx(_conv_model(), shapes)


def test_conv_transpose() -> None:
    model = single("ConvTranspose", {"x": ["N", 4, 5, 5]}, {"w": weights(4, 2, 3, 3)},
                   strides=[2, 2])
    report = profile_onnx(model, {"x": (1, 4, 5, 5)})
    macs = 1 * 4 * 5 * 5 * 2 * 3 * 3                     # N·Ci·∏in·(Co/g)·K²
    outputs = 1 * 2 * 11 * 11                            # (5 − 1)·2 + 3 = 11
    assert report.total.macs == macs == 1800
    assert report.using("exact").total.flops == 2 * macs - outputs


@pytest.mark.parametrize("bias", [True, False], ids=["with-bias", "no-bias"])
def test_gemm(bias: bool) -> None:
    initializers = {"w": weights(8, 16)} | ({"c": weights(8, seed=2)} if bias else {})
    model = single("Gemm", {"x": ["batch", 16]}, initializers, transB=1)
    report = profile_onnx(model, {"x": (3, 16)})
    macs, outputs = 3 * 16 * 8, 3 * 8
    assert report.total.macs == macs
    assert report.total.flops == 2 * macs
    assert report.using("exact").total.flops == 2 * macs - outputs + (outputs if bias else 0)
    assert report.total.params == 8 * 16 + (8 if bias else 0)


def test_matmul_broadcasting() -> None:
    model = single("MatMul", {"a": [2, 1, 5, 6]}, {"b": weights(3, 6, 7)})
    assert profile_onnx(model).total.macs == 2 * 3 * 5 * 7 * 6


def test_einsum_with_symbolic_batch() -> None:
    model = single("Einsum", {"q": ["B", 4, 5, 8], "k": ["B", 4, 6, 8]},
                   equation="bhqd,bhkd->bhqk")
    report = profile_onnx(model, {"B": (2,)})
    assert report.total.macs == 2 * 4 * 5 * 6 * 8


def test_lstm() -> None:
    hidden, inputs, steps, batch = 4, 3, 5, 2
    model = single("LSTM", {"x": [steps, "batch", inputs]},
                   {"W": weights(1, 4 * hidden, inputs), "R": weights(1, 4 * hidden, hidden),
                    "B": weights(1, 8 * hidden)}, hidden_size=hidden)
    report = profile_onnx(model, {"batch": (batch,)})
    macs = steps * batch * 4 * hidden * (inputs + hidden)          # 4 gates · H · (E + H)
    assert report.total.macs == macs == 1120
    assert report.total.flops == 2 * macs + steps * batch * hidden * 22
    assert report.total.params == 4 * hidden * (inputs + hidden) + 8 * hidden


def test_batchnorm_statistics_are_buffers() -> None:
    model = single("BatchNormalization", {"x": ["N", 3, 4, 4]},
                   {"scale": weights(3), "bias": weights(3, seed=1), "mean": weights(3, seed=2),
                    "var": np.ones(3, np.float32)})
    report = profile_onnx(model, {"x": (2, 3, 4, 4)})
    assert report.total.flops == (2 + 2) * 2 * 3 * 16            # normalise + affine
    assert report.total.params == 3 + 3
    assert report.param_bytes == {"float32": 6 * 4}
    assert report.buffer_bytes == {"float32": 6 * 4}


def test_layernorm() -> None:
    model = single("LayerNormalization", {"x": ["batch", 5, 8]},
                   {"scale": weights(8), "bias": weights(8, seed=1)}, axis=-1)
    report = profile_onnx(model, {"batch": (2,)})
    assert report.total.flops == (4 + 2 + 2) * 2 * 5 * 8


def test_pooling_chain() -> None:
    model = graph_model([
        node("MaxPool", ["x"], ["a"], kernel_shape=[2, 2], strides=[2, 2]),
        node("AveragePool", ["a"], ["b"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        node("GlobalAveragePool", ["b"], ["y"]),
    ], {"x": ["N", 2, 8, 8]}, ["y"])
    report = profile_onnx(model, {"N": (1,)})
    pooled = 1 * 2 * 4 * 4                                       # 8×8 → 4×4
    assert report.total.flops == pooled * 4 + pooled * (9 + 1) + (pooled + 2)


def test_resize_reads_its_scales() -> None:
    model = single("Resize", {"x": [1, 2, 4, 4]},
                   {"scales": np.array([1, 1, 2, 2], np.float32)}, input_order=["x", "", "scales"],
                   mode="linear")
    report = profile_onnx(model)
    assert report.total.flops == 7 * 1 * 2 * 8 * 8                # bilinear: 4 taps, 7 FLOPs
    assert report.total.params == 0                               # the scales are settings
    assert report.buffer_bytes == {"float32": 4 * 4}


def test_softmax_and_elementwise_chain() -> None:
    model = graph_model([
        node("Add", ["x", "b"], ["a"]),
        node("Relu", ["a"], ["r"]),
        node("Sigmoid", ["r"], ["s"]),
        node("Mul", ["s", "x"], ["m"]),
        node("Softmax", ["m"], ["y"], axis=-1),
    ], {"x": ["batch", 3]}, ["y"], {"b": weights(3)})
    report = profile_onnx(model, {"x": (2, 3)})
    n = 2 * 3
    assert report.total.flops == n * (1 + 1 + 4 + 1 + 5)          # add relu sigmoid mul softmax
    assert report.total.macs == 0


def test_matmul_then_stored_vector_add_is_a_bias() -> None:
    model = graph_model([
        node("MatMul", ["x", "w"], ["h"], name="/fc/MatMul"),
        node("Add", ["h", "b"], ["y"], name="/fc/Add"),
    ], {"x": [2, 4, 8]}, ["y"], {"w": weights(8, 16), "b": weights(16, seed=1)})
    report = profile_onnx(model)
    macs, outputs = 2 * 4 * 8 * 16, 2 * 4 * 16
    assert report.total.macs == macs
    assert report.total.flops == 2 * macs                           # as addmm: bias folded
    assert report.using("exact").total.flops == 2 * macs - outputs + outputs
    (add,) = _events(report, "Add")
    assert (add.cost.bias_adds, add.cost.elementwise) == (outputs, 0)


def test_zero_cost_data_ops_and_gather_bytes() -> None:
    model = graph_model([
        node("Shape", ["x"], ["s"]),
        node("Reshape", ["x", "shape"], ["r"]),
        node("Transpose", ["r"], ["t"], perm=[1, 0]),
        node("Gather", ["table", "ids"], ["g"], axis=0),
        node("Flatten", ["g"], ["y"]),
    ], {"x": [2, 3, 4], "ids": Typed([3], INT64)}, ["t", "y"],
        {"shape": ints(6, 4), "table": weights(10, 4)})
    report = profile_onnx(model)
    assert report.total.flops == 0 and report.total.macs == 0
    statuses = {e.op: e.status for e in report.events}
    assert statuses == {"Shape": Status.ZERO, "Reshape": Status.ZERO, "Transpose": Status.ZERO,
                        "Gather": Status.COUNTED, "Flatten": Status.ZERO}
    assert _events(report, "Reshape")[0].cost.bytes_read == 0      # metadata only
    (transpose,) = _events(report, "Transpose")
    assert (transpose.cost.bytes_read, transpose.cost.bytes_written) == (24 * 4, 24 * 4)
    (gather,) = _events(report, "Gather")                          # 3 ids, 3 rows of 4 floats
    assert (gather.cost.bytes_read, gather.cost.bytes_written) == (3 * 8 + 12 * 4, 12 * 4)
    assert report.total.params == 10 * 4                           # the int64 shape is no param
    assert report.buffer_bytes == {"int64": 2 * 8}


def test_unsupported_op_is_listed_and_strict_raises() -> None:
    model = graph_model([
        node("Relu", ["x"], ["a"]),
        node("Frobnicate", ["a"], ["b"], domain="custom.ops"),
        node("Frobnicate", ["b"], ["y"], domain="custom.ops"),
    ], {"x": [2, 3]}, ["y"], extra_domains=[("custom.ops", 1)])
    report = profile_onnx(model)
    assert report.unsupported == {"custom.ops.Frobnicate": 2}
    assert report.total.flops == 6                                 # the Relu still counts
    assert report.sections["onnx"].unsized_values == 2            # b and y: no shape known
    with pytest.raises(UnsupportedOpsError, match="custom.ops.Frobnicate ×2"):
        profile_onnx(model, strict=True)


def test_data_dependent_shape_is_a_clear_error() -> None:
    model = graph_model([
        node("NonZero", ["x"], ["idx"]),
        node("Cast", ["idx"], ["f"], to=TensorProto.FLOAT),
        node("Transpose", ["f"], ["t"], perm=[1, 0]),
        node("MatMul", ["t", "w"], ["y"], name="/head/MatMul"),
    ], {"x": [6]}, ["y"], {"w": weights(1, 4)})
    with pytest.raises(UsageError, match="depends on tensor values") as raised:
        profile_onnx(model)
    assert "/head/MatMul" in str(raised.value)


def test_shape_computations_are_folded_for_inference() -> None:
    # y = reshape(x, [shape(x)[0], -1]) built from Shape/Gather/Unsqueeze/Concat, then a MatMul
    model = graph_model([
        node("Shape", ["x"], ["s"]),
        node("Gather", ["s", "zero"], ["n"], axis=0),
        node("Unsqueeze", ["n", "axes"], ["n1"]),
        node("Concat", ["n1", "minus_one"], ["target"], axis=0),
        node("Reshape", ["x", "target"], ["flat"]),
        node("Expand", ["flat", "target_twice"], ["e"]),
        node("MatMul", ["e", "w"], ["y"]),
    ], {"x": ["batch", 2, 3]}, ["y"],
        {"zero": np.array(0, np.int64), "axes": ints(0), "minus_one": ints(-1),
         "target_twice": ints(1, 1), "w": weights(6, 5)})
    report = profile_onnx(model, {"batch": (4,)})
    assert report.total.macs == 4 * 6 * 5


# -- the module tree ------------------------------------------------------------------------------
def _scoped_model():
    return graph_model([
        node("MatMul", ["x", "w1"], ["h"], name="/encoder/layer.0/fc/MatMul"),
        node("Relu", ["h"], ["a"], name="/encoder/layer.0/act/Relu"),
        node("Add", ["a", "x"], ["s"], name="/encoder/layer.0/Add"),
        node("Relu", ["s"], ["b"], name="/encoder/layer.0/act_1/Relu"),
        node("MatMul", ["b", "w2"], ["y"], name="/head/MatMul"),
    ], {"x": ["batch", 8]}, ["y"], {"w1": weights(8, 8), "w2": weights(8, 2, seed=1)})


def test_name_scopes_become_the_module_tree() -> None:
    report = profile_onnx(_scoped_model(), {"batch": (4,)})
    rows = {row.name: row for row in report.modules()}
    assert list(rows) == ["", "encoder", "encoder.layer", "encoder.layer.0",
                          "encoder.layer.0.fc", "encoder.layer.0.act", "head"]
    assert rows["encoder.layer.0.fc"].type == "MatMul"
    assert rows["encoder"].type == "scope" and rows[""].type == "graph"
    assert rows["encoder.layer.0.act"].calls == 2                  # act and act_1 merged
    assert rows["encoder.layer.0.act"].flops == 2 * 4 * 8          # two Relus of 4×8
    assert rows["encoder.layer.0"].self_flops == 4 * 8             # the residual Add
    assert rows["encoder"].macs == 4 * 8 * 8 and rows["head"].macs == 4 * 8 * 2
    assert rows["encoder"].params == 64 and rows["head"].params == 16
    assert rows["encoder.layer.0"].output_bytes == 4 * 8 * 4       # b leaves the scope
    for row in rows.values():                                      # inclusive = self + children
        children = [r for r in rows.values()
                    if r.name != row.name and r.name.rpartition(".")[0] == row.name]
        assert row.macs == row.self_macs + sum(c.macs for c in children)
        assert row.flops == row.self_flops + sum(c.flops for c in children)


def test_torchscript_exporter_container_prefixes() -> None:
    model = graph_model([
        node("Relu", ["x"], ["a"], name="/features/features.1/conv/conv.0/conv.0.0/Relu"),
        node("Relu", ["a"], ["y"], name="/layer1/layer1.0/relu_1/Relu"),
    ], {"x": [2]}, ["y"])
    names = [row.name for row in profile_onnx(model).modules()]
    assert "features.1.conv.0.0" in names and "layer1.0.relu_1" in names  # no sibling to merge


def test_real_module_with_suffix_keeps_its_name() -> None:
    model = graph_model([
        node("MatMul", ["x", "conv.weight"], ["a"], name="/conv/MatMul"),
        node("MatMul", ["a", "conv_1.weight"], ["y"], name="/conv_1/MatMul"),
    ], {"x": [1, 4]}, ["y"], {"conv.weight": weights(4, 4), "conv_1.weight": weights(4, 4, seed=1)})
    report = profile_onnx(model)
    assert report.module("conv_1").params == 16 and report.module("conv").calls == 1


def test_torch_export_name_scope_metadata_wins() -> None:
    matmul = node("MatMul", ["x", "w"], ["y"], name="node_linear")
    helper.set_metadata_props(matmul, {"pkg.torch.onnx.name_scopes":
                                       "['', 'blocks', 'blocks.0', 'blocks.0.proj', 'linear']"})
    report = profile_onnx(graph_model([matmul], {"x": [2, 4]}, ["y"], {"w": weights(4, 3)}))
    assert report.module("blocks.0.proj").macs == 2 * 4 * 3
    assert report.module("blocks.0.proj").type == "MatMul"


# -- parameters -----------------------------------------------------------------------------------
def test_shared_initializer_counts_once_at_its_first_user() -> None:
    model = graph_model([
        node("MatMul", ["x", "w"], ["a"], name="/first/MatMul"),
        node("Identity", ["w"], ["w_alias"], name="Identity_0"),
        node("MatMul", ["a", "w"], ["b"], name="/second/MatMul"),
        node("MatMul", ["b", "w_alias"], ["y"], name="/third/MatMul"),
    ], {"x": [2, 8]}, ["y"], {"w": weights(8, 8)})
    report = profile_onnx(model)
    assert report.total.params == 8 * 8
    assert [report.module(m).params for m in ("first", "second", "third")] == [64, 0, 0]
    assert report.total.macs == 3 * 2 * 8 * 8


def test_identity_alias_used_first_belongs_to_its_consumer() -> None:
    model = graph_model([
        node("Identity", ["w"], ["w_alias"], name="Identity_0"),
        node("MatMul", ["x", "w_alias"], ["y"], name="/fc/MatMul"),
    ], {"x": [2, 8]}, ["y"], {"w": weights(8, 8)})
    assert profile_onnx(model).module("fc").params == 64


def test_quantized_integer_weights_are_parameters_not_trainable() -> None:
    model = graph_model([
        node("DequantizeLinear", ["wq", "scale"], ["w"], name="/fc/DequantizeLinear"),
        node("MatMul", ["x", "w"], ["y"], name="/fc/MatMul"),
    ], {"x": [2, 4]}, ["y"], {"wq": np.arange(16, dtype=np.int8).reshape(4, 4),
                              "scale": np.array(0.1, np.float32)})
    report = profile_onnx(model)
    assert report.total.params == 16                               # the int8 weight
    assert report.total.trainable_params == 0
    assert report.param_bytes == {"int8": 16} and report.buffer_bytes == {"float32": 4}


def test_constant_nodes_are_literals_not_parameters() -> None:
    constant = helper.make_node("Constant", [], ["c"], name="/scale/Constant",
                                value=numpy_helper.from_array(weights(2, 3), "c"))
    model = graph_model([constant, node("Mul", ["x", "c"], ["y"])], {"x": [2, 3]}, ["y"])
    report = profile_onnx(model)
    assert report.total.params == 0 and report.total.flops == 6


# -- plumbing ------------------------------------------------------------------------------------
def test_user_model_is_not_modified() -> None:
    model = _conv_model()
    before = model.SerializeToString()
    profile_onnx(model, {"x": (2, 3, 8, 8)})
    assert model.SerializeToString() == before


def test_file_path_and_json(tmp_path) -> None:
    import onnx

    path = tmp_path / "conv.onnx"
    onnx.save(_conv_model(), str(path))
    report = profile_onnx(path, parse_input_shapes(["x=2x3x8x8"]))
    assert report.run.model == "conv" and report.total.macs == 13824
    data = json.loads(report.to_json())
    assert data["run"]["mode"] == "onnx" and data["onnx"]["inputs"] == {"x": [2, 3, 8, 8]}
    with pytest.raises(ModelLoadError, match="no such file"):
        profile_onnx(tmp_path / "missing.onnx")


def test_parse_input_shapes() -> None:
    assert parse_input_shapes(["a=1,2", "b=3x4", "c=[5, 6]", "batch=8"]) == {
        "a": (1, 2), "b": (3, 4), "c": (5, 6), "batch": (8,)}
    for bad in (["a"], ["=1,2"], ["a=1,,x"], ["a=0,2"], ["a=1", "a=2"]):
        with pytest.raises(UsageError):
            parse_input_shapes(bad)


# -- attention ops in a graph ---------------------------------------------------------------------
def test_onnx_attention_op_with_symbolic_batch() -> None:
    model = single("Attention", {"q": ["B", 2, 3, 8], "k": ["B", 2, 4, 8], "v": ["B", 2, 4, 8]},
                   opset=23)
    report = profile_onnx(model, {"B": (3,)})
    scores = 3 * 2 * 3 * 4                                         # B·h·Lq·Lk
    assert report.total.macs == scores * (8 + 8)                   # QKᵀ + AV
    assert report.total.flops == 2 * scores * 16 + scores * (5 + 1)


def test_contrib_multihead_attention_in_a_graph() -> None:
    model = single("MultiHeadAttention", {"q": [1, 3, 16], "k": [1, 4, 16], "v": [1, 4, 16]},
                   domain="com.microsoft", num_heads=2)
    report = profile_onnx(model)
    assert report.total.macs == 1 * 2 * 3 * 4 * (8 + 8)
    assert report.unsupported == {}


def test_top_level_name() -> None:
    assert flopwise.profile_onnx is profile_onnx
    assert profile_onnx(_conv_model(), {"batch": (1,)}).run.device == "static shapes"
