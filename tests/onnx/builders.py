"""Small ONNX graphs written with onnx.helper, for hand-derived expectations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64

Shape = Sequence[int | str | None] | None


class Typed:
    """A graph input of another element type than float32: ``Typed([3], INT64)``."""

    def __init__(self, shape: Shape, elem: int) -> None:
        self.shape, self.elem = shape, elem


def weights(*shape: int, seed: int = 0) -> np.ndarray:
    """A float32 weight with distinct values (so no exporter-style deduplication applies)."""
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def node(op: str, inputs: Sequence[str], outputs: Sequence[str], name: str | None = None,
         domain: str = "", **attrs: Any) -> onnx.NodeProto:
    return helper.make_node(op, list(inputs), list(outputs), name=name or op, domain=domain,
                            **attrs)


def graph_model(nodes: Sequence[onnx.NodeProto], inputs: Mapping[str, Shape | Typed],
                outputs: Sequence[str], initializers: Mapping[str, np.ndarray] | None = None,
                opset: int = 21, extra_domains: Sequence[tuple[str, int]] = ()) -> onnx.ModelProto:
    """A model with ``inputs`` (name -> shape, float32 unless :class:`Typed`), float outputs of
    unknown shape, and numpy ``initializers``."""
    graph_inputs = []
    for name, spec in inputs.items():
        typed = spec if isinstance(spec, Typed) else Typed(spec, FLOAT)
        graph_inputs.append(helper.make_tensor_value_info(name, typed.elem, typed.shape))
    graph = helper.make_graph(
        list(nodes), "test", graph_inputs,
        [helper.make_tensor_value_info(name, FLOAT, None) for name in outputs],
        [numpy_helper.from_array(value, name) for name, value in (initializers or {}).items()],
    )
    opsets = [helper.make_opsetid("", opset)]
    opsets += [helper.make_opsetid(domain, version) for domain, version in extra_domains]
    # IR 10 goes with opset 21 (onnx's default, the newest IR, is more than older onnxruntime
    # releases read: onnxruntime 1.23, the last for Python 3.10, stops at IR 11)
    return helper.make_model(graph, opset_imports=opsets, ir_version=10)


def single(op: str, inputs: Mapping[str, Shape | Typed],
           initializers: Mapping[str, np.ndarray] | None = None,
           input_order: Sequence[str] | None = None, n_outputs: int = 1,
           name: str | None = None, domain: str = "", opset: int = 21,
           **attrs: Any) -> onnx.ModelProto:
    """One node reading ``input_order`` (default: inputs then initializers, in order)."""
    order = list(input_order) if input_order is not None else [*inputs, *(initializers or {})]
    outputs = [f"y{i}" for i in range(n_outputs)]
    extra = [(domain, 1)] if domain else []
    return graph_model([node(op, order, outputs, name=name, domain=domain, **attrs)], inputs,
                       outputs[:1], initializers, opset=opset, extra_domains=extra)
